"""schemathesis over /openapi.json against the app, on both backends: no operation answers a 5xx.

The gate is schemathesis's `not_a_server_error` check. Its other checks (status codes, content
types, headers and bodies against the documented schema, negative and positive data) run too;
what they find is printed at the end of the module, not failed on: the full contract comes later.
`make fuzz` runs every check, long, against a live `opendata serve`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, load_all_checks, not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup

from api.config import Settings
from api.main import create_app

load_all_checks()
REPORTED = [check for check in CHECKS.get_all() if check is not not_a_server_error]
EXAMPLES_PER_OPERATION = 8


def _failures(error: Failure | FailureGroup) -> list[Failure]:
    return list(error.exceptions) if isinstance(error, FailureGroup) else [error]


def _exercise(operation: Any, server_errors: list[str], reported: Counter[tuple[str, str]]) -> None:
    """Send one operation's generated cases; note 5xx answers and the other checks' findings."""
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck)
    )
    def run(case: Any) -> None:
        response = case.call()
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (Failure, FailureGroup) as error:
            server_errors.extend(f"{label}: {f.title}" for f in _failures(error))
        try:
            case.validate_response(response, checks=REPORTED)
        except (Failure, FailureGroup) as error:
            for failure in _failures(error):
                reported[(failure.title, label)] += 1

    run()


def _report(config: pytest.Config, reported: Counter[tuple[str, str]]) -> None:
    """Print the other checks' findings past pytest's capture, so every run shows them."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not reported:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line("schemathesis findings, reported and not gated on:")
        for (title, label), count in sorted(reported.items()):
            reporter.write_line(f"  {title}: {label} ({count} example(s))")


def test_no_operation_answers_a_server_error(
    flagship_settings: Settings, request: pytest.FixtureRequest
) -> None:
    # Operations are walked here rather than with `schema.parametrize()`: its lazy-fixture
    # form (needed, as the schema depends on the loaded database) does not run on pytest 9.
    app = create_app(flagship_settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    server_errors: list[str] = []
    reported: Counter[tuple[str, str]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20  # every documented route and every resource's rows

    for operation in operations:
        _exercise(operation, server_errors, reported)
    app.state.engine.dispose()
    _report(request.config, reported)
    assert server_errors == []
