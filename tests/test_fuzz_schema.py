"""schemathesis over /openapi.json against a live server, on both backends: every check passes.

Every operation of the document is exercised with schema-valid (positive) and schema-breaking
(negative) cases under a small fixed budget, derandomized, and every schemathesis check runs on
each answer: status codes, content types, headers and bodies against the document, valid data
accepted, invalid data refused, no 5xx. `make fuzz` runs the same checks long, with every phase.

A few rules of the rows grammar span parameters, or are deployment limits, and OpenAPI 3.1
parameter schemas cannot state them (README, "What the OpenAPI document says"). A positive case
is made to keep them before it is sent (`tests/schemathesis_rules.py`), and 414 counts among the
refusals of a negative case (`tests/schemathesis.toml`); no check is switched off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode

from tests.live import LiveServer, live_server
from tests.schemathesis_rules import keep_cross_parameter_rules

load_all_checks()
ALL_CHECKS = CHECKS.get_all()
EXAMPLES_PER_OPERATION = 4
CONFIG = SchemathesisConfig.from_path(Path(__file__).with_name("schemathesis.toml"))


@pytest.fixture(scope="module")
def live(flagship_url: str) -> Iterator[LiveServer]:
    with live_server(flagship_url) as server:
        yield server


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
