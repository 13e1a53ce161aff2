"""The `opendata` command line: validate, load, serve, catalog, release, diff."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.config import get_settings
from api.errors import PackageInvalid
from api.ingest.catalog import build_catalog, catalog_path, render_catalog
from api.ingest.discover import ReleaseRef, find_releases
from api.ingest.validate import ValidationOutcome, error_entries, flatten, validate_release

app = typer.Typer(
    help="Publish validated, versioned Frictionless data packages.", no_args_is_help=True
)


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


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Package folders, release folders or datapackage.json files."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full frictionless reports as JSON.")
    ] = False,
    datasets: Annotated[
        Path | None, typer.Option("--datasets", help="Datasets folder (default: settings).")
    ] = None,
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
            }
            for ref, outcome in results
        ]
        typer.echo(json.dumps(listing, indent=2, ensure_ascii=False))
    else:
        if not results:
            console.print(f"no releases found under {escape(str(datasets_dir))}")
        for ref, outcome in results:
            _print_outcome(console, ref, outcome)
    if not all(outcome.valid for _, outcome in results):
        raise typer.Exit(1)


# catalog -----------------------------------------------------------------------------------------


@app.command()
def catalog(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when datapackage.json is missing or stale.")
    ] = False,
    datasets: Annotated[
        Path | None, typer.Option("--datasets", help="Datasets folder (default: settings).")
    ] = None,
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
        typer.Argument(help="Package or release folders (default: every release)."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Database URL (default: settings).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    datasets: Annotated[
        Path | None, typer.Option("--datasets", help="Datasets folder (default: settings).")
    ] = None,
) -> None:
    """Validate and load every release not loaded yet; exit 1 when any is refused."""
    from api.db.engine import writer_engine
    from api.ingest.load import ReleaseLoader

    settings = get_settings()
    url = database_url or settings.database_url
    console = Console(highlight=False, stderr=True)
    refs = find_releases(_settings_datasets_dir(datasets), paths or ())
    engine = writer_engine(url)
    try:
        loader = ReleaseLoader(engine, batch_size=settings.load_batch_size, quiet=quiet,
                               console=console)
        summary = loader.load_all(refs)
    finally:
        engine.dispose()
    out = Console(highlight=False)
    for package, version, rows in summary.loaded:
        out.print(f"loaded   {escape(package)} {escape(version)}  {rows:,} rows")
    for package, version in summary.skipped:
        out.print(f"present  {escape(package)} {escape(version)}  (already loaded, unchanged)")
    for package, version, message in summary.conflicts:
        out.print(f"[red]refused[/red]  {escape(package)} {escape(version)}: {escape(message)}")
    for package, version, report in summary.refused:
        errors = [e for t in report.get("tasks", []) for e in t.get("errors", [])]
        errors += report.get("errors", [])
        out.print(f"[red]refused[/red]  {escape(package)} {escape(version)}: invalid,"
                  f" {len(errors)} error(s)")
        for error in errors[:SHOWN_ERRORS]:
            message = error.get("message", error) if isinstance(error, dict) else error
            out.print(f"  - {escape(str(message))}")
    out.print(f"database: {escape(engine.url.render_as_string(hide_password=True))}")
    if not summary.ok:
        raise typer.Exit(1)


# serve -------------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Serve the loaded releases over HTTP with uvicorn."""
    import uvicorn

    uvicorn.run(
        "api.asgi:app", host=host, port=port, workers=workers, reload=reload,
        proxy_headers=True, log_level="info",
    )
