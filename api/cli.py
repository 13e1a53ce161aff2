"""The `opendata` command line: validate, load, serve, catalog, release, diff."""

from __future__ import annotations

import typer

app = typer.Typer(help="Publish validated, versioned Frictionless data packages.", no_args_is_help=True)
