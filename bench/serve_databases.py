"""The databases `serve.py` measures: the release loaded into SQLite, its copies, PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from common import OUT, RESOURCE, VENV_BIN, SyntheticRelease, fresh_sqlite, run_measured, sqlite_url
from sqlalchemy.engine import make_url

DEFAULT_ROWS = 1_000_000
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
"""A URL to connect to PostgreSQL with, to create the benchmark's database next to it."""
POSTGRES_DATABASE = "opendata_bench"


@dataclass(frozen=True)
class Variant:
    """A copy of the loaded file with SQL run on it, and the parts of serve.py measured on it."""

    label: str
    sql: str  # `{table}` stands for the resource's table
    repeated: bool  # (a), the repeated URL
    varied: bool  # (c), the varied list


# The file as loaded already holds the package's declared (province, reported_on) index, so both
# servers read each file with the same indexes. Without statistics is an (a) question (what
# bounds the repeated URL); the extra index is a (c) one: the (a) URL filters on no category.
VARIANTS = (
    Variant("without planner statistics", "DROP TABLE IF EXISTS sqlite_stat1",
            repeated=True, varied=False),
    Variant("with an index on (category, reported_on)",
            'CREATE INDEX "ix_{table}_category_reported_on" ON "{table}" (category, reported_on);'
            " ANALYZE;", repeated=False, varied=True),
)


@dataclass(frozen=True)
class Database:
    """A SQLite file holding the loaded release, the resource's table, what is measured on it."""

    path: Path
    table: str
    label: str
    repeated: bool = True  # (a) and (b) run on it
    varied: bool = True  # (c) runs on it

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the file."""
        return sqlite_url(str(self.path))

    @property
    def stem(self) -> str:
        """A name for files derived from this database."""
        return self.path.stem



def datasets_dir(rows: int) -> Path:
    """Where the release of `rows` rows lives (the same place `load.py` writes it)."""
    return OUT / "datasets" if rows == DEFAULT_ROWS else OUT / f"rows-{rows}" / "datasets"


def loaded_database(release: SyntheticRelease) -> Database:
    """The release loaded by `opendata load` into a fresh file under bench/out/db.

    The file is checkpointed and left in rollback-journal mode, so a reader opening it immutable
    (Datasette's `-i`) sees every row without the WAL.
    """
    path = fresh_sqlite(f"serve-{release.rows}")
    run = run_measured([VENV_BIN / "opendata", "load", "--quiet", "--datasets", release.datasets,
                        "--database-url", sqlite_url(str(path))])
    if run.returncode != 0:
        raise SystemExit(f"opendata load failed:\n{run.stdout}\n{run.stderr[-4000:]}")
    print(f"loaded {release.rows:,} rows in {run.seconds:.1f} s into {path}")
    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        (table,) = connection.execute(
            "SELECT table_name FROM od_resources WHERE name = ?", (RESOURCE,)).fetchone()
    return Database(path, table, "as loaded")


def variant(database: Database, number: int, chosen: Variant) -> Database:
    """A copy of the loaded file with the variant's SQL run on it (`VARIANTS`)."""
    path = fresh_sqlite(f"{database.path.stem}-v{number}")
    shutil.copyfile(database.path, path)
    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.executescript(chosen.sql.format(table=database.table))
    return Database(path, database.table, chosen.label, repeated=chosen.repeated,
                    varied=chosen.varied)


def indexes(database: Database) -> str:
    """The table's indexes as `name (columns)` (`PRAGMA index_list`), and its statistics."""
    with sqlite3.connect(f"file:{database.path}?mode=ro", uri=True) as connection:
        found = []
        for _seq, name, *_ in connection.execute(f'PRAGMA index_list("{database.table}")'):
            columns = [row[2] for row in connection.execute(f'PRAGMA index_info("{name}")')]
            found.append(f"`{name}` ({', '.join(columns)})")
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        analyzed = "sqlite_stat1" in tables and connection.execute(
            "SELECT count(*) FROM sqlite_stat1 WHERE tbl = ?", (database.table,)).fetchone()[0]
    statistics = "planner statistics (`sqlite_stat1`)" if analyzed else "no planner statistics"
    return f"{', '.join(sorted(found))}; {statistics}"



@dataclass(frozen=True)
class PostgresDatabase:
    """A PostgreSQL database holding the same release, loaded by `opendata load`."""

    url: str
    name: str
    version: str
    label: str = "PostgreSQL"

    @property
    def stem(self) -> str:
        """A name for files derived from this database."""
        return f"postgresql-{self.name}"


def _admin(admin_url: str) -> sa.Engine:
    return sa.create_engine(admin_url, isolation_level="AUTOCOMMIT",
                            connect_args={"connect_timeout": 3})


def _create(admin: sa.Engine, name: str, *, drop: bool = False) -> str:
    """Create the database unless it exists (dropped first with `drop`); the server's version."""
    with admin.connect() as connection:
        if drop:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        found = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                   {"name": name}).first()
        if found is None:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return str(connection.exec_driver_sql("SHOW server_version").scalar_one()).split()[0]


def _load(url: str, release: SyntheticRelease) -> tuple[bool, str]:
    run = run_measured([VENV_BIN / "opendata", "load", "--datasets", release.datasets,
                        "--database-url", url])
    output = run.stdout + run.stderr
    if run.returncode == 0:
        kept = "already loaded" in output
        print(f"{'kept' if kept else 'loaded'} {release.rows:,} rows in {run.seconds:.1f} s"
              f" in PostgreSQL ({make_url(url).database})")
    return run.returncode == 0, output


def postgres_database(admin_url: str, release: SyntheticRelease) -> PostgresDatabase | None:
    """The release in its own PostgreSQL database, created and loaded unless it holds it already.

    The database is kept between runs (`opendata_bench`, or `opendata_bench_<rows>` for another
    row count); one that holds other content under the release's name is dropped and loaded
    again. None, with a message, when no PostgreSQL server answers at `admin_url`.
    """
    name = POSTGRES_DATABASE if release.rows == DEFAULT_ROWS else (
        f"{POSTGRES_DATABASE}_{release.rows}")
    admin = _admin(admin_url)
    try:
        version = _create(admin, name)
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        loaded, output = _load(url, release)
        if not loaded and "already published with other content" in output:
            _create(admin, name, drop=True)
            loaded, output = _load(url, release)
        if not loaded:
            raise SystemExit(f"opendata load into PostgreSQL failed:\n{output[-4000:]}")
    except sa.exc.OperationalError as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        print(f"PostgreSQL left out: no server answers at {make_url(admin_url)!r} ({first});"
              " pass --no-postgres to skip it without trying")
        return None
    finally:
        admin.dispose()
    return PostgresDatabase(url, name, version)
