"""docs/deploy.md documents every setting of `Settings` and every metric of api/obs/metrics.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase

from api.config import Settings
from api.obs import metrics

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"
ENV_PREFIX = "OPENDATA_"


def table(header: str) -> dict[str, list[str]]:
    """The rows of the table under `header`, keyed by their backticked first cell."""
    lines = DEPLOY.read_text(encoding="utf-8").splitlines()
    assert header in lines, f"docs/deploy.md has no table {header!r}"
    rows: dict[str, list[str]] = {}
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        assert match, f"first cell is not a backticked name: {line!r}"
        assert match.group(1) not in rows, f"{match.group(1)} is documented twice"
        rows[match.group(1)] = cells[1:]
    return rows


def settings_rows() -> dict[str, list[str]]:
    return table("| variable | default | meaning |")


def test_every_setting_is_documented_and_nothing_else() -> None:
    expected = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    documented = set(settings_rows())
    assert expected - documented == set(), "settings missing from docs/deploy.md"
    assert documented - expected == set(), "docs/deploy.md documents settings that do not exist"


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_documented_default_is_the_real_one(name: str) -> None:
    default_cell, meaning = settings_rows()[f"{ENV_PREFIX}{name.upper()}"]
    assert meaning, f"{name} has no meaning in docs/deploy.md"
    default = Settings.model_fields[name].default
    if isinstance(default, bool | int | float) or (
        isinstance(default, str) and not default.startswith("sqlite:")
    ):
        assert default_cell == f"`{default}`"


def defined_metrics() -> dict[str, tuple[str, ...]]:
    """The exposed name of every metric the module defines, with its label names."""
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            suffix = "_total" if value._type == "counter" else ""
            found[f"{value._name}{suffix}"] = tuple(value._labelnames)
    return found


def test_every_metric_is_documented_with_its_labels() -> None:
    documented = table("| metric | labels | meaning |")
    defined = defined_metrics()
    assert defined, "no metric found in api/obs/metrics.py"
    assert set(documented) == set(defined)
    for name, labels in defined.items():
        cell = documented[name][0]
        assert tuple(re.findall(r"`([^`]+)`", cell)) == labels, name
