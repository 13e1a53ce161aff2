"""What several `opendata` commands share: the datasets option and how errors are printed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.config import get_settings
from api.ingest.validate import ValidationOutcome, error_entries, flatten

# The `--datasets` option every command that reads release folders takes.
DatasetsOption = Annotated[
    Path | None, typer.Option("--datasets", help="Datasets folder (default: settings).")
]


def settings_datasets_dir(datasets: Path | None) -> Path:
    """The datasets folder given, or the one of the settings."""
    return datasets if datasets is not None else get_settings().datasets_dir


SHOWN_ERRORS = 20
"""How many errors `opendata validate` prints for each invalid release."""


def error_rows(outcome: ValidationOutcome) -> list[tuple[str, str, str, str, str]]:
    """One (resource, row, field, type, message) per error of a validation outcome."""
    rows = []
    for (resource, row, field, kind), (_, error) in zip(
        flatten(outcome), error_entries(outcome), strict=True
    ):
        cells = (resource or "", "" if row is None else str(row), field or "", kind)
        rows.append((*cells, str(error.get("message", ""))))
    return rows


def shown_path(path: Path) -> str:
    """A path as the user will read it: relative to the working folder when it is inside."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
