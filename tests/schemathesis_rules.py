"""Rules of the rows grammar that OpenAPI 3.1 parameter schemas cannot state, kept by the
positive cases of `tests/test_fuzz_schema.py` and `make fuzz` (README, "What the OpenAPI document
says"). The refusal a negative case may get besides the checks' defaults, 414 URI Too Long, is in
`tests/schemathesis.toml`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _inverted(low: str, high: str) -> bool:
    """Whether a range's low end is above its high end as the server orders them: numbers by
    value, text (and ISO dates) by code point."""
    try:
        return float(high) < float(low)
    except ValueError:
        return high < low


def keep_cross_parameter_rules(query: dict[str, Any], *, max_params: int, max_bytes: int) -> None:
    """Make a schema-valid query keep the rules its parameters' schemas cannot say, in place.

    A cursor (`_next`) is valid only as the server issued it; a range `low..high` has its low
    end first; a column is sorted once (not `a` and `-a`); `_col` and `_nocol` leave a column;
    a query holds at most OPENDATA_MAX_QUERY_PARAMS parameters and OPENDATA_MAX_QUERY_BYTES
    bytes.
    """
    query.pop("_next", None)
    for key, value in query.items():
        if key.endswith("__between") and isinstance(value, str):
            low, _, high = value.partition("..")
            if low and high and _inverted(low, high):
                query[key] = f"{high}..{low}"
    if "_sort" in query:
        seen: dict[str, str] = {}
        for name in _names(query["_sort"]):
            seen.setdefault(name.removeprefix("-"), name)
        query["_sort"] = list(seen.values())
    if "_nocol" in query:
        kept = set(_names(query["_col"])) if "_col" in query else None
        dropped = [n for n in _names(query["_nocol"]) if kept is None or n not in kept]
        if kept is None and dropped:  # it may name every column: leave the first it names
            dropped = [n for n in dropped if n != dropped[0]]
        if dropped:
            query["_nocol"] = dropped
        else:
            del query["_nocol"]

    def size() -> tuple[int, int]:
        pairs = [(k, v) for k, values in query.items() for v in _names(values)]
        return len(pairs), len(urlencode(pairs))

    while query and (size()[0] > max_params or size()[1] > max_bytes):
        query.popitem()
