"""Two releases compared: schema changes, row counts per resource, the bump they call for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.diff.rows import ADDED, CHANGED, REMOVED, RowCounts
from api.diff.schema import METADATA_CHANGED, Bump, SchemaChange, declared_bump, diff_schemas
from api.diff.shapes import COMPARED, ReleaseShape, ResourcePair, pair_resources

# What rows added, removed or changed call for: rows added are new data, the others corrections.
ROW_BUMPS: tuple[tuple[str, Bump, str], ...] = (
    (ADDED, Bump.MINOR, "{count} {rows} added to resource '{resource}'"),
    (REMOVED, Bump.PATCH, "{count} {rows} removed from resource '{resource}'"),
    (CHANGED, Bump.PATCH, "{count} {rows} changed in resource '{resource}'"),
)


@dataclass(frozen=True)
class Reason:
    """One change that calls for a bump, said in a phrase."""

    bump: Bump
    message: str
    resource: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The reason as a JSON object."""
        return {"bump": self.bump.label, "resource": self.resource, "message": self.message}


@dataclass(frozen=True)
class ResourceDiff:
    """A resource in either release, with its row counts when its rows could be compared."""

    pair: ResourcePair
    counts: RowCounts | None = None

    @property
    def name(self) -> str:
        """The resource name."""
        return self.pair.name

    def reasons(self) -> list[Reason]:
        """What the row changes of this resource call for."""
        if self.counts is None:
            return []
        found = []
        for diff_type, bump, template in ROW_BUMPS:
            count = getattr(self.counts, diff_type)
            if count:
                rows = "row" if count == 1 else "rows"
                message = template.format(count=count, rows=rows, resource=self.name)
                found.append(Reason(bump, message, self.name))
        return found

    def as_dict(self) -> dict[str, Any]:
        """The resource's status and counts as a JSON object."""
        pair = self.pair
        return {
            "name": pair.name,
            "status": pair.status,
            "reason": pair.reason,
            "primary_key": list(pair.key),
            "compared_fields": list(pair.value_fields),
            "rows": self.counts.as_dict() if self.counts is not None else None,
        }


@dataclass(frozen=True)
class ReleaseDiff:
    """The differences between two releases of one package."""

    package: str
    from_version: str
    to_version: str
    changes: tuple[SchemaChange, ...]
    resources: tuple[ResourceDiff, ...]

    def resource(self, name: str) -> ResourceDiff | None:
        """The resource called `name` in either release, or None."""
        return next((r for r in self.resources if r.name == name), None)

    @property
    def reasons(self) -> list[Reason]:
        """Every change that calls for a bump: schema changes first, then rows."""
        found = [Reason(c.bump, c.message, c.resource) for c in self.changes]
        return found + [reason for r in self.resources for reason in r.reasons()]

    @property
    def required_bump(self) -> Bump:
        """The smallest bump that covers every change."""
        return max((reason.bump for reason in self.reasons), default=Bump.NONE)

    @property
    def declared_bump(self) -> Bump | None:
        """The bump the two version numbers declare; None when `to` is older than `from`."""
        return declared_bump(self.from_version, self.to_version)

    @property
    def bump_ok(self) -> bool | None:
        """Whether the declared bump covers the changes; None when `to` is older than `from`."""
        declared = self.declared_bump
        return None if declared is None else declared >= self.required_bump

    def shortfall(self) -> str | None:
        """Why the declared bump is too small, naming the change that needs more; else None."""
        declared, required = self.declared_bump, self.required_bump
        if declared is None or declared >= required:
            return None
        reason = next(r for r in self.reasons if r.bump == required)
        return (
            f"{reason.message} requires a {required.label} release;"
            f" {self.to_version} declares {declared.label}"
        )

    def summary_line(self) -> str:
        """The diff in one line, for a changelog entry."""
        edits = [c.message for c in self.changes if c.change != METADATA_CHANGED]
        edits += [reason.message for r in self.resources for reason in r.reasons()]
        metadata = sum(1 for c in self.changes if c.change == METADATA_CHANGED)
        if metadata:
            edits.append(f"{metadata} metadata {'edit' if metadata == 1 else 'edits'}")
        if not edits:
            return "No changes to data or metadata."
        text = "; ".join(edits)
        return text[0].upper() + text[1:] + "."

    def as_dict(self, resource: str | None = None) -> dict[str, Any]:
        """The diff as a JSON object; `resource` narrows the changes and resources listed.

        The bump, and the reasons for it, are always those of the whole release.
        """
        declared = self.declared_bump
        return {
            "package": self.package,
            "from": self.from_version,
            "to": self.to_version,
            "resource": resource,
            "required_bump": self.required_bump.label,
            "declared_bump": declared.label if declared is not None else None,
            "bump_ok": self.bump_ok,
            "reasons": [r.as_dict() for r in self.reasons],
            "schema_changes": [
                c.as_dict() for c in self.changes if resource is None or c.resource == resource
            ],
            "resources": [
                r.as_dict() for r in self.resources if resource is None or r.name == resource
            ],
        }


def diff_releases(
    package: str,
    before: ReleaseShape,
    after: ReleaseShape,
    count: Callable[[ResourcePair], RowCounts],
) -> ReleaseDiff:
    """Diff two releases; `count` compares the rows of each resource whose rows can be compared."""
    resources = tuple(
        ResourceDiff(pair, count(pair) if pair.status == COMPARED else None)
        for pair in pair_resources(before, after)
    )
    return ReleaseDiff(
        package=package,
        from_version=before.version,
        to_version=after.version,
        changes=tuple(diff_schemas(before, after)),
        resources=resources,
    )
