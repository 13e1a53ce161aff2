"""The `opendata` command line: validate, load, serve, catalog, release, diff."""

from api.cli.main import app

__all__ = ["app"]
