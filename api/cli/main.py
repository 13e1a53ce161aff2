"""The `opendata` command line: validate, load, serve, catalog, release, diff."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli.release import diff_command, release_command
from api.cli.shared import (
    SHOWN_ERRORS,
    DatasetsOption,
    error_rows,
    settings_datasets_dir,
    shown_path,
)
from api.config import get_settings
from api.errors import PackageInvalid, quoted
from api.ingest.catalog import build_catalog, catalog_path, render_catalog
from api.ingest.discover import ReleaseRef, find_releases
from api.ingest.validate import ValidationOutcome, validate_release
from api.web.server import HttpParser

app = typer.Typer(
    help="Publish validated, versioned Frictionless data packages.", no_args_is_help=True
)


# validate ----------------------------------------------------------------------------------------


def _print_outcome(console: Console, ref: ReleaseRef, outcome: ValidationOutcome) -> None:
    count = int(outcome.report.get("stats", {}).get("errors", 0))
    verdict = "[green]VALID[/green]" if outcome.valid else "[red]INVALID[/red]"
    header = f"{escape(ref.package)} {escape(ref.version)}  {verdict}  {count} error(s)"
    console.print(f"{header}  [dim]{escape(shown_path(ref.path))}[/dim]")
    if outcome.valid:
        return
    table = Table("resource", "row", "field", "type", "message", box=None, padding=(0, 1))
    rows = error_rows(outcome)
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
    datasets_dir = settings_datasets_dir(datasets)
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
    datasets_dir = settings_datasets_dir(datasets)
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
        refs = find_releases(settings_datasets_dir(datasets), paths or ())
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


app.command("diff")(diff_command)
app.command("release")(release_command)
