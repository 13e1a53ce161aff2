"""The time one request's queries may take: each query, and all of them together."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from api.config import Settings
from api.errors import QueryTimeout


@dataclass(frozen=True)
class Limit:
    """How long the next query may run, and what its QueryTimeout says when it runs longer."""

    seconds: float
    message: str


@dataclass
class QueryBudget:
    """One request's time for queries, created when the request starts.

    Each query may run `query_seconds`; together they must end within `request_seconds` of the
    start (a page, its count and its facets; a diff's counts and changes). None: no request limit.
    """

    query_seconds: float
    request_seconds: float | None = None
    facet_seconds: float | None = None  # a facet past it is left out, not a failed request
    clock: Callable[[], float] = time.monotonic
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        spread = math.inf if self.request_seconds is None else self.request_seconds
        self.deadline = self.clock() + spread

    def next_limit(self, at_most: float | None = None) -> Limit:
        """The limit of the next query; QueryTimeout when the request has no time left.

        :param at_most: a shorter limit the caller wants for this query.
        """
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            raise QueryTimeout(self._spent())
        seconds = self.query_seconds if at_most is None else min(at_most, self.query_seconds)
        if remaining < seconds:
            return Limit(remaining, self._spent())
        return Limit(seconds, f"the query ran longer than {seconds:g} s")

    def _spent(self) -> str:
        return f"the queries of this request ran longer than {self.request_seconds:g} s in all"


def request_budget(settings: Settings) -> QueryBudget:
    """The budget of a request starting now, from the two time-limit settings."""
    return QueryBudget(
        settings.query_timeout_seconds,
        settings.request_timeout_seconds,
        facet_seconds=settings.facet_timeout_seconds,
    )
