"""Engines for the loader (read-write, transactional DDL) and the server (read-only)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.errors import QueryCanceled
from sqlalchemy import event
from sqlalchemy.engine import make_url

from api.db.budget import QueryBudget
from api.errors import DatabaseUnavailable, QueryTimeout
from api.obs.metrics import QUERY_TIMEOUTS

# Virtual-machine steps between two looks at the clock (a few microseconds of work).
PROGRESS_STEPS = 1_000


def is_sqlite(url: str) -> bool:
    """Whether the URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def writer_engine(url: str) -> sa.Engine:
    """Engine for loading: on SQLite, DDL and DML share one real transaction."""
    if not is_sqlite(url):
        return sa.create_engine(url, pool_pre_ping=True)
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 16 MiB of page cache: a larger one grows the peak memory of a load with no gain in speed.
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def reader_engine(
    url: str, *, connect_timeout: float = 5.0, pool_timeout: float = 10.0
) -> sa.Engine:
    """Engine for serving: SQLite opened read-only, PostgreSQL with a pool.

    :param connect_timeout: seconds to wait for a PostgreSQL connection (or a SQLite lock).
    :param pool_timeout: seconds to wait for a free pooled connection.
    """
    if not is_sqlite(url):
        engine = sa.create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            pool_timeout=pool_timeout,
            # libpq counts whole seconds; below 2 it waits for ever or gives up at once.
            connect_args={"connect_timeout": max(2, round(connect_timeout))},
        )
        event.listen(engine, "handle_error", _lost_is_disconnect)
        return engine
    path = _sqlite_path(url)
    if path is None:
        return sa.create_engine(url)
    ro_url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    engine = sa.create_engine(
        ro_url,
        pool_size=20,
        max_overflow=20,
        pool_timeout=pool_timeout,
        connect_args={"timeout": connect_timeout},
    )
    event.listen(engine, "handle_error", _lost_is_disconnect)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLite's own lower() folds ASCII only; `icontains` must ignore case as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    return engine


def _lost_is_disconnect(context: sa.engine.ExceptionContext) -> None:
    # A connection that saw its database lost (a SQLite file replaced, a server gone) is
    # thrown away with the rest of the pool, so the next request opens a fresh one: recovery
    # needs no restart.
    if database_unavailable(context.original_exception) is not None:
        context.is_disconnect = True


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class PlanAbandoned(Exception):
    """A SQLite statement passed the CPU budget of its first plan; the caller tries another."""


@contextmanager
def time_limited(
    connection: sa.Connection,
    budget: float | QueryBudget,
    *,
    at_most: float | None = None,
    cpu_at_most: float | None = None,
) -> Iterator[sa.Connection]:
    """Run the block under the next limit of `budget`; raise QueryTimeout when it is hit.

    :param budget: the request's budget, or the seconds of a query run on its own.
    :param at_most: a shorter limit for this block (the inline budget of a page).
    :param cpu_at_most: SQLite only: seconds of this thread's CPU time the block may use, after
        which it raises PlanAbandoned. CPU time, unlike the wall clock, does not stretch when
        other requests share the machine, so the same plan is abandoned under load or not.
    """
    if not isinstance(budget, QueryBudget):
        budget = QueryBudget(budget)
    limit = budget.next_limit(at_most)
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        deadline = time.monotonic() + limit.seconds
        cpu_deadline = None if cpu_at_most is None else time.thread_time() + cpu_at_most
        spent: list[bool] = []

        def past_deadline() -> bool:
            if cpu_deadline is not None and time.thread_time() > cpu_deadline:
                spent.append(True)
                return True
            return time.monotonic() > deadline

        # SQLite calls the handler every PROGRESS_STEPS virtual-machine steps and interrupts the
        # statement when it returns true: no thread per query, and nothing to cancel afterwards.
        raw.set_progress_handler(past_deadline, PROGRESS_STEPS)  # type: ignore[union-attr]
        try:
            yield connection
        except (sa.exc.OperationalError, sqlite3.OperationalError) as exc:
            if _stopped_by_limit(exc):
                if spent:
                    raise PlanAbandoned from exc
                QUERY_TIMEOUTS.inc()
                raise QueryTimeout(limit.message) from exc
            raise
        finally:
            raw.set_progress_handler(None, 0)  # type: ignore[union-attr]
        return
    # SET LOCAL ends with the transaction, which the pool rolls back on return. A limit under a
    # millisecond is one millisecond: PostgreSQL reads 0 as no limit at all.
    # The SET itself runs under the limit set before it (a diff sets one per batch it reads).
    milliseconds = max(1, round(limit.seconds * 1000))
    try:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        yield connection
    except Exception as exc:
        if _stopped_by_limit(exc):
            QUERY_TIMEOUTS.inc()
            raise QueryTimeout(limit.message) from exc
        raise


def _stopped_by_limit(exc: BaseException) -> bool:
    """Whether a database error is the time limit firing.

    Rows read from the driver's own cursor (pages, exports, diffs) raise the driver's exception,
    not SQLAlchemy's wrapper: both must be recognised, or a limit that fires mid-fetch is a 500.
    """
    original = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    if isinstance(original, sqlite3.OperationalError):
        return "interrupted" in str(original)
    return isinstance(original, QueryCanceled) and "statement timeout" in str(original)


# SQLite messages that mean the file is gone, replaced or unreadable, not a bad query.
_SQLITE_LOST = (
    "unable to open database",
    "file is not a database",
    "database disk image is malformed",
    "disk i/o error",
    "no such table: od_",  # a replaced or empty file: no registry
    "readonly database",
)


def database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The 503 a database error stands for when the database is lost, else None.

    The one place that tells a lost database (PostgreSQL down or hanging, a SQLite file moved,
    replaced or emptied) from a programming error, which must stay a 500.
    """
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if isinstance(exc, sa.exc.TimeoutError):
        return DatabaseUnavailable("no database connection came free in time")
    invalidated = isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
    original = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    lost = invalidated
    if isinstance(original, sqlite3.DatabaseError):
        text = str(original).lower()
        lost = lost or any(marker in text for marker in _SQLITE_LOST)
    elif isinstance(original, psycopg.OperationalError):
        lost = lost or not isinstance(original, QueryCanceled)
    elif isinstance(original, psycopg.InterfaceError):
        lost = True
    elif isinstance(original, psycopg.errors.UndefinedTable):
        lost = '"od_' in str(original)  # a database without the registry
    if not lost:
        return None
    reason = " ".join(str(original).split())[:200]
    return DatabaseUnavailable(f"the database cannot be reached: {reason}")
