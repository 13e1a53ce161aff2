"""How many blocking database calls of one engine a worker runs at once; the rest wait in order.

Under a burst of slow queries (scans of a large table), running every one at once in its own
thread stretches each of them past its time limit and starves the event loop of the GIL: a
wall-clock limit then fires on work that would have finished. A worker therefore runs at most
`OPENDATA_DB_CONCURRENCY` of an engine's calls at once; the others queue first come, first
served (anyio's CapacityLimiter), and a query's own time limit starts when it runs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import sqlalchemy as sa
from anyio import CapacityLimiter
from anyio.to_thread import run_sync

T = TypeVar("T")
Args = TypeVarTuple("Args")

_LIMITERS: weakref.WeakKeyDictionary[sa.Engine, CapacityLimiter] = weakref.WeakKeyDictionary()


def limit_concurrency(engine: sa.Engine, calls: int) -> None:
    """Let at most `calls` blocking calls of `engine` run at once in this process."""
    _LIMITERS[engine] = CapacityLimiter(calls)


async def run_blocking(engine: sa.Engine, func: Callable[[*Args], T], *args: *Args) -> T:
    """Run `func(*args)` in a worker thread once one of the engine's slots is free."""
    return await run_sync(func, *args, limiter=_LIMITERS.get(engine))
