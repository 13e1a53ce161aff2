"""The `opendata` command line: validate, load, serve, catalog, release, diff."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.config import get_settings
from api.diff.release import ReleaseDiff
from api.diff.schema import Bump, next_version, parse_bump
from api.errors import PackageInvalid, quoted
from api.ingest.catalog import build_catalog, catalog_path, render_catalog
from api.ingest.discover import ReleaseRef, find_releases
from api.ingest.release import (
    ReleaseRefused,
    diff_folders,
    package_releases,
    resolve_release,
    scaffold_release,
    seal_release,
)
from api.ingest.validate import ValidationOutcome, error_entries, flatten, validate_release
from api.web.server import HttpParser

app = typer.Typer(
    help="Publish validated, versioned Frictionless data packages.", no_args_is_help=True
)


# The `--datasets` option every command that reads release folders takes.
DatasetsOption = Annotated[
    Path | None, typer.Option("--datasets", help="Datasets folder (default: settings).")
]

# validate ----------------------------------------------------------------------------------------

SHOWN_ERRORS = 20
"""How many errors `opendata validate` prints for each invalid release."""


def _settings_datasets_dir(datasets: Path | None) -> Path:
    return datasets if datasets is not None else get_settings().datasets_dir


def _error_rows(outcome: ValidationOutcome) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for (resource, row, field, kind), (_, error) in zip(
        flatten(outcome), error_entries(outcome), strict=True
    ):
        cells = (resource or "", "" if row is None else str(row), field or "", kind)
        rows.append((*cells, str(error.get("message", ""))))
    return rows


def _shown_path(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_outcome(console: Console, ref: ReleaseRef, outcome: ValidationOutcome) -> None:
    count = int(outcome.report.get("stats", {}).get("errors", 0))
    verdict = "[green]VALID[/green]" if outcome.valid else "[red]INVALID[/red]"
    header = f"{escape(ref.package)} {escape(ref.version)}  {verdict}  {count} error(s)"
    console.print(f"{header}  [dim]{escape(_shown_path(ref.path))}[/dim]")
    if outcome.valid:
        return
    table = Table("resource", "row", "field", "type", "message", box=None, padding=(0, 1))
    rows = _error_rows(outcome)
    for row in rows[:SHOWN_ERRORS]:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    if len(rows) > SHOWN_ERRORS:
        console.print(f"  ... and {len(rows) - SHOWN_ERRORS} more (use --json for all of them)")


def _print_formula_like(console: Console, outcome: ValidationOutcome) -> None:
    """Warn about text that spreadsheets would read as a formula (the release stays valid)."""
    if not outcome.formula_like_count:
        return
    console.print(
        f"  [yellow]warning:[/yellow] {outcome.formula_like_count} text value(s) start with"
        " =, +, -, @, tab or CR; Excel-ready downloads (CSV with _bom=1) prefix them with '"
    )
    table = Table("resource", "row", "field", "value", box=None, padding=(0, 1))
    for found in outcome.formula_like:
        cells = (found.resource, str(found.row), found.field, quoted(found.value))
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)
    rest = outcome.formula_like_count - len(outcome.formula_like)
    if rest:
        console.print(f"  ... and {rest} more")


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Datasets, package or release folders, or datapackage.json files."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full frictionless reports as JSON.")
    ] = False,
    datasets: DatasetsOption = None,
) -> None:
    """Validate every release (or the given ones); exit 1 when any is invalid."""
    console = Console(highlight=False, soft_wrap=True)
    datasets_dir = _settings_datasets_dir(datasets)
    try:
        refs = find_releases(datasets_dir, paths or ())
    except FileNotFoundError as error:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from error
    results = [(ref, validate_release(ref.path)) for ref in refs]
    if as_json:
        listing = [
            {
                "package": ref.package,
                "version": ref.version,
                "path": str(ref.path),
                "valid": outcome.valid,
                "report": outcome.report,
                "formula_like": {
                    "count": outcome.formula_like_count,
                    "first": [asdict(found) for found in outcome.formula_like],
                },
            }
            for ref, outcome in results
        ]
        typer.echo(json.dumps(listing, indent=2, ensure_ascii=False))
    else:
        if not results:
            console.print(f"no releases found under {escape(str(datasets_dir))}")
        for ref, outcome in results:
            _print_outcome(console, ref, outcome)
            _print_formula_like(console, outcome)
    if not all(outcome.valid for _, outcome in results):
        raise typer.Exit(1)


# catalog -----------------------------------------------------------------------------------------


@app.command()
def catalog(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when datapackage.json is missing or stale.")
    ] = False,
    datasets: DatasetsOption = None,
) -> None:
    """Write the root datapackage.json: the latest release of every package."""
    console = Console(highlight=False, soft_wrap=True)
    datasets_dir = _settings_datasets_dir(datasets)
    root = datasets_dir.resolve().parent
    target = catalog_path(root)
    try:
        expected = render_catalog(build_catalog(datasets_dir, root))
    except PackageInvalid as error:
        console.print(f"[red]error:[/red] {escape(error.message)}; run `opendata validate`")
        raise typer.Exit(1) from error
    if not check:
        target.write_text(expected, encoding="utf-8")
        console.print(f"wrote {escape(str(target))}")
        return
    if not target.is_file():
        console.print(f"{escape(str(target))} is missing; run `opendata catalog` to write it")
        raise typer.Exit(1)
    current = target.read_text(encoding="utf-8")
    if current != expected:
        console.print(f"{escape(str(target))} is stale; run `opendata catalog` to rewrite it")
        diff = difflib.unified_diff(
            current.splitlines(), expected.splitlines(), "current", "expected", lineterm=""
        )
        for line in list(diff)[:40]:
            console.print(escape(line))
        raise typer.Exit(1)
    console.print(f"{escape(str(target))} is up to date")


# load --------------------------------------------------------------------------------------------


@app.command()
def load(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Datasets, package or release folders (default: every release)."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Database URL (default: settings).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    datasets: DatasetsOption = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(help="Write the load metrics here, for a Prometheus textfile collector."),
    ] = None,
) -> None:
    """Validate and load every release not loaded yet; exit 1 when any is refused."""
    from api.db.engine import writer_engine
    from api.ingest.load import ReleaseLoader

    settings = get_settings()
    url = database_url or settings.database_url
    console = Console(highlight=False, stderr=True)
    try:
        refs = find_releases(_settings_datasets_dir(datasets), paths or ())
        engine = writer_engine(url)
    except (FileNotFoundError, sa.exc.ArgumentError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from error
    try:
        loader = ReleaseLoader(
            engine, batch_size=settings.load_batch_size, quiet=quiet, console=console
        )
        summary = loader.load_all(refs)
    except sa.exc.OperationalError as error:
        console.print(f"[red]error:[/red] the database did not answer: {escape(str(error.orig))}")
        raise typer.Exit(2) from error
    except FileNotFoundError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from error
    finally:
        engine.dispose()
    if metrics_file is not None:
        from api.obs.metrics import write_textfile

        write_textfile(metrics_file)
    out = Console(highlight=False, soft_wrap=True)
    for package, version, rows in summary.loaded:
        out.print(f"loaded   {escape(package)} {escape(version)}  {rows:,} rows")
    for package, version in summary.skipped:
        out.print(f"present  {escape(package)} {escape(version)}  (already loaded, unchanged)")
    for package, version, message in summary.conflicts:
        out.print(f"[red]refused[/red]  {escape(package)} {escape(version)}: {escape(message)}")
    for package, version, report in summary.refused:
        errors = [e for t in report.get("tasks", []) for e in t.get("errors", [])]
        errors += report.get("errors", [])
        out.print(
            f"[red]refused[/red]  {escape(package)} {escape(version)}: invalid,"
            f" {len(errors)} error(s)"
        )
        for problem in errors[:SHOWN_ERRORS]:
            message = problem.get("message", problem) if isinstance(problem, dict) else problem
            out.print(f"  - {escape(str(message))}")
    out.print(f"database: {escape(engine.url.render_as_string(hide_password=True))}")
    if not summary.ok:
        raise typer.Exit(1)


# serve -------------------------------------------------------------------------------------------

WORKER_START_SECONDS = 30
"""How long uvicorn's supervisor waits for a worker's answer before it kills it as hung: a new
worker imports the whole service first, which takes longer than uvicorn's 5 s on a busy host."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: OPENDATA_WORKERS, else 1)."),
    ] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    http: Annotated[
        HttpParser,
        typer.Option(help="HTTP parser: h11 bounds the request head; httptools is faster."),
    ] = HttpParser.h11,
) -> None:
    """Serve the loaded releases over HTTP with uvicorn.

    On SIGTERM the server stops accepting connections at once and gives running requests
    OPENDATA_GRACEFUL_SHUTDOWN_SECONDS to finish.
    """
    import sys

    import uvicorn

    from api.obs.metrics import multiprocess_dir
    from api.web.server import server_options

    settings = get_settings()
    count = workers if workers is not None else settings.workers
    options = server_options(settings, parser=http, terminal=sys.stderr.isatty())
    with multiprocess_dir(count):
        uvicorn.run(
            "api.asgi:app",
            host=host,
            port=port,
            workers=count,
            reload=reload,
            timeout_worker_healthcheck=WORKER_START_SECONDS,
            **options,
        )


# diff and release --------------------------------------------------------------------------------

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


@app.command("diff")
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
        refs = package_releases(_settings_datasets_dir(datasets), package)
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


@app.command("release")
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
    datasets_dir = _settings_datasets_dir(datasets)
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
        f"created {escape(_shown_path(made.release.path))} from {escape(made.source.version)}"
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
            for row in _error_rows(error.outcome)[:SHOWN_ERRORS]:
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
        console.print(f"changelog entry added to {escape(_shown_path(sealed.changelog))}")
