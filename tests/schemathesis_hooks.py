"""schemathesis hooks of `make fuzz` (`SCHEMATHESIS_HOOKS=tests.schemathesis_hooks`): positive
cases keep the rules no parameter schema can state, as in `tests/test_fuzz_schema.py`."""

from __future__ import annotations

from typing import Any

import schemathesis

from api.config import Settings
from tests.schemathesis_rules import keep_cross_parameter_rules


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:  # noqa: ARG001 - the hook's form
    """Make a positive case keep the cross-parameter rules and the query limits."""
    if case.meta is not None and case.meta.generation.mode.is_positive and case.query:
        settings = Settings()
        keep_cross_parameter_rules(
            case.query,
            max_params=settings.max_query_params,
            max_bytes=settings.max_query_bytes // 2,  # room for percent-encoding
        )
