"""A registry snapshot never changes; what is derived from it is remembered through its methods."""

from __future__ import annotations

import dataclasses

import pytest

from api.db.releases import Snapshot


def test_a_snapshot_is_frozen() -> None:
    snapshot = Snapshot(packages={}, marker=(0, 0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.marker = (1, 1)  # type: ignore[misc]


def test_derived_documents_are_built_once_per_key() -> None:
    snapshot = Snapshot(packages={}, marker=(0, 0))
    built: list[str] = []

    def build() -> str:
        built.append("x")
        return "document"

    assert snapshot.derived("key", build) == "document"
    assert snapshot.derived("key", build) == "document"
    assert built == ["x"]
    assert Snapshot(packages={}, marker=(0, 0)).derived("key", lambda: "other") == "other"
