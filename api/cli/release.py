"""`opendata diff` and `opendata release`: compare release folders, scaffold and seal releases."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli.shared import (
    SHOWN_ERRORS,
    DatasetsOption,
    error_rows,
    settings_datasets_dir,
    shown_path,
)
from api.diff.release import ReleaseDiff
from api.diff.schema import Bump, next_version, parse_bump
from api.ingest.release import (
    ReleaseRefused,
    diff_folders,
    package_releases,
    resolve_release,
    scaffold_release,
    seal_release,
)

BUMP_STYLES = {Bump.NONE: "dim", Bump.PATCH: "green", Bump.MINOR: "yellow", Bump.MAJOR: "red"}


def _bump_text(bump: Bump | None) -> str:
    if bump is None:
        return "[dim]n/a[/dim]"
    return f"[{BUMP_STYLES[bump]}]{bump.label}[/{BUMP_STYLES[bump]}]"


def _print_diff(console: Console, diff: ReleaseDiff, resource: str | None = None) -> None:
    console.print(
        f"[bold]{escape(diff.package)}[/bold] {escape(diff.from_version)} -> "
        f"{escape(diff.to_version)}" + (f"  (resource {escape(resource)})" if resource else "")
    )
    changes = [c for c in diff.changes if resource is None or c.resource == resource]
    if changes:
        table = Table("bump", "schema or metadata change", box=None, padding=(0, 1))
        for change in changes:
            table.add_row(_bump_text(change.bump), escape(change.message))
        console.print(table)
    else:
        console.print("no schema or metadata changes")
    rows = Table(
        "resource", "status", "added", "removed", "changed", "unchanged", box=None, padding=(0, 1)
    )
    reasons = []
    for item in diff.resources:
        if resource is not None and item.name != resource:
            continue
        if item.counts is not None:
            counts = item.counts
            numbers = (counts.added, counts.removed, counts.changed, counts.unchanged)
            rows.add_row(escape(item.name), "compared", *(f"{n:,}" for n in numbers))
        else:
            rows.add_row(escape(item.name), item.pair.status.replace("_", " "))
            if item.pair.reason:
                why = escape(item.pair.reason)
                reasons.append(f"  {escape(item.name)}: rows not compared, {why}")
    console.print(rows)
    for line in reasons:
        console.print(line)
    declared = diff.declared_bump
    verdict = {True: "[green]ok[/green]", False: "[red]too small[/red]", None: ""}[diff.bump_ok]
    console.print(
        f"required bump: {_bump_text(diff.required_bump)}   declared:"
        f" {_bump_text(declared)} ({escape(diff.from_version)} -> {escape(diff.to_version)})"
        f"   {verdict}"
    )


def _refuse(console: Console, error: ReleaseRefused) -> NoReturn:
    console.print(f"[red]refused:[/red] {escape(error.message)}")
    raise typer.Exit(1)


def diff_command(
    package: Annotated[str, typer.Argument(help="Package name: its folder under datasets/.")],
    from_version: Annotated[str, typer.Argument(metavar="A", help="Older release, or latest.")],
    to_version: Annotated[str, typer.Argument(metavar="B", help="Newer release, or latest.")],
    resource: Annotated[
        str | None, typer.Option("--resource", help="Only this resource's changes.")
    ] = None,
    datasets: DatasetsOption = None,
) -> None:
    """Show what changed between two release folders and the SemVer bump it calls for."""
    console = Console(highlight=False, soft_wrap=True)
    try:
        refs = package_releases(settings_datasets_dir(datasets), package)
        before = resolve_release(refs, from_version)
        after = resolve_release(refs, to_version)
        found = diff_folders(before, after)
    except ReleaseRefused as error:
        _refuse(console, error)
    if resource is not None and found.resource(resource) is None:
        names = ", ".join(r.name for r in found.resources)
        _refuse(console, ReleaseRefused(f"no resource {resource!r} (resources: {names})"))
    _print_diff(console, found, resource)


class BumpName(StrEnum):
    """The part of the version a new release raises."""

    major = "major"
    minor = "minor"
    patch = "patch"


def release_command(
    package: Annotated[str, typer.Argument(help="Package name: its folder under datasets/.")],
    bump: Annotated[
        BumpName | None,
        typer.Option("--bump", help="Part of the version to raise (default: minor)."),
    ] = None,
    seal: Annotated[
        bool, typer.Option("--seal", help="Seal the newest release folder once it is edited.")
    ] = False,
    datasets: DatasetsOption = None,
) -> None:
    """Scaffold the next release from the latest one, or seal it (--seal) once edited."""
    console = Console(highlight=False, soft_wrap=True)
    datasets_dir = settings_datasets_dir(datasets)
    if seal and bump is not None:
        console.print("[red]error:[/red] --seal takes the version from the folder; drop --bump")
        raise typer.Exit(2)
    if seal:
        _seal(console, datasets_dir, package)
        return
    try:
        made = scaffold_release(datasets_dir, package, parse_bump(bump or BumpName.minor))
    except ReleaseRefused as error:
        _refuse(console, error)
    files = ", ".join(made.data_files) or "none"
    console.print(
        f"created {escape(shown_path(made.release.path))} from {escape(made.source.version)}"
        f" ({made.bump.label} release)"
    )
    console.print("next:")
    console.print(f"  1. edit the data files: {escape(files)}")
    console.print("  2. edit datapackage.json: description, schemas, sources (version and created")
    console.print("     are set; bytes and hash are left out until the release is sealed)")
    console.print(f"  3. opendata release {escape(package)} --seal")


def _seal(console: Console, datasets_dir: Path, package: str) -> None:
    try:
        sealed = seal_release(datasets_dir, package)
    except ReleaseRefused as error:
        if error.outcome is not None:
            table = Table("resource", "row", "field", "type", "message", box=None, padding=(0, 1))
            for row in error_rows(error.outcome)[:SHOWN_ERRORS]:
                table.add_row(*(escape(cell) for cell in row))
            console.print(table)
        if error.diff is not None:
            _print_diff(console, error.diff)
            previous, required = error.diff.from_version, error.diff.required_bump
            console.print(
                f"[red]refused:[/red] {escape(error.message)}; cut it as"
                f" {next_version(previous, required)} instead (folder name and version)"
            )
            raise typer.Exit(1) from None
        _refuse(console, error)
    release = sealed.release
    if sealed.diff is not None:
        _print_diff(console, sealed.diff)
    if sealed.resealed:
        console.print(
            "[yellow]warning:[/yellow] this release was sealed before with other files;"
            " never re-seal a published release: cut a new version instead"
        )
    label = f"{escape(release.package)} {escape(release.version)}"
    if sealed.refreshed:
        written = escape(", ".join(sealed.refreshed))
        console.print(f"sealed {label}: bytes and hash written for {written}")
    else:
        console.print(f"{label} is already sealed; nothing to write")
    if sealed.changelog is not None:
        console.print(f"changelog entry added to {escape(shown_path(sealed.changelog))}")
