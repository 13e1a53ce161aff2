"""schemathesis over /openapi.json against a live server, on both backends: every check passes.

Every operation of the document is exercised with schema-valid (positive) and schema-breaking
(negative) cases under a small fixed budget, derandomized, and every schemathesis check runs on
each answer: status codes, content types, headers and bodies against the document, valid data
accepted, invalid data refused, no 5xx. `make fuzz` runs the same checks long, with every phase.

A few rules of the rows grammar span parameters, or are deployment limits, and OpenAPI 3.1
parameter schemas cannot state them (README, "What the OpenAPI document says"). A positive case
is made to keep them before it is sent (`keep_cross_parameter_rules`); nothing else is changed,
and no check is switched off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode

from tests.live import LiveServer, live_server

load_all_checks()
ALL_CHECKS = CHECKS.get_all()
EXAMPLES_PER_OPERATION = 4
# A query string past OPENDATA_MAX_QUERY_BYTES is refused with 414 URI Too Long (RFC 9110,
# 15.5.15), which is how HTTP refuses an over-long target; the check's default list of refusals
# omits it, so it is added to that list. Nothing else of any check is changed.
REFUSALS = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "414"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
)


@pytest.fixture(scope="module")
def live(flagship_url: str) -> Iterator[LiveServer]:
    with live_server(flagship_url) as server:
        yield server


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
        if kept is None and dropped:
            dropped = dropped[1:]  # schemas enumerate every column; leave one
        if dropped:
            query["_nocol"] = dropped
        else:
            del query["_nocol"]

    def size() -> tuple[int, int]:
        pairs = [(k, v) for k, values in query.items() for v in _names(values)]
        return len(pairs), len(urlencode(pairs))

    while query and (size()[0] > max_params or size()[1] > max_bytes):
        query.popitem()


def _failures(error: Failure | FailureGroup) -> list[Failure]:
    return list(error.exceptions) if isinstance(error, FailureGroup) else [error]


def _exercise(operation: Any, mode: GenerationMode, live: LiveServer, found: list[str]) -> None:
    label = f"{mode.value} {operation.method.upper()} {operation.path}"
    limits = live.settings

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if mode is GenerationMode.POSITIVE and case.query:
            keep_cross_parameter_rules(
                case.query,
                max_params=limits.max_query_params,
                max_bytes=limits.max_query_bytes // 2,  # room for percent-encoding
            )
        response = case.call(base_url=live.url)
        try:
            case.validate_response(response, checks=ALL_CHECKS)
        except (Failure, FailureGroup) as error:
            answer = f"{response.status_code} {response.text[:300]}"
            found.extend(
                f"{label}: {f.title}: {answer} ({case.as_curl_command(base_url=live.url)[:300]})"
                for f in _failures(error)
            )

    try:
        run()
    except Unsatisfiable:
        # Only a negative run: every parameter takes any text, so no value breaks the schema.
        assert mode is GenerationMode.NEGATIVE, label


def test_every_check_passes_on_every_operation(live: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60  # every documented route, and five per resource
    found: list[str] = []
    for operation in operations:
        _exercise(operation, GenerationMode.POSITIVE, live, found)
        if operation.path_parameters or operation.query:
            _exercise(operation, GenerationMode.NEGATIVE, live, found)
    assert found == [], "\n".join(found)
