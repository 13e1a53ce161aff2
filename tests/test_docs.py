"""The README documents every operator, control and setting the code defines, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.config import Settings
from api.query.operators import CONTROLS, OPERATORS

README = Path(__file__).resolve().parent.parent / "README.md"
ENV_PREFIX = "OPENDATA_"


def table_keys(header: str) -> list[str]:
    """The backticked first cells of the README table whose header row is `header`."""
    lines = README.read_text(encoding="utf-8").splitlines()
    if header not in lines:
        pytest.fail(f"README.md has no table with the header {header!r}")
    start = lines.index(header) + 2  # skip the header and the |---| row
    keys = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        first = line.split("|")[1].strip()
        match = re.fullmatch(r"`([^`]+)`", first)
        assert match, f"first cell is not a backticked name: {line!r}"
        keys.append(match.group(1))
    return keys


def test_every_operator_has_a_row() -> None:
    keys = table_keys("| operator | fits | meaning |")
    assert sorted(keys) == sorted(OPERATORS)
    assert len(keys) == len(set(keys))


def test_every_control_has_a_row() -> None:
    keys = table_keys("| control | meaning |")
    assert sorted(keys) == sorted(CONTROLS)
    assert len(keys) == len(set(keys))


def test_every_setting_has_a_row() -> None:
    keys = table_keys("| variable | default | meaning |")
    expected = [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]
    assert sorted(keys) == sorted(expected)
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_described(name: str) -> None:
    description = Settings.model_fields[name].description
    assert description and description.endswith(".")
