"""Domain errors: each carries an HTTP status and renders as RFC 9457 problem+json."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

QUOTE_LIMIT = 60
MAX_PROBLEM_ERRORS = 20  # `errors[]` entries a problem lists unless the caller says otherwise
# Characters that would not read as themselves in a message: C0/C1 controls, line and paragraph
# separators, and lone surrogates.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def plain(text: str, *, limit: int = QUOTE_LIMIT) -> str:
    """`text` as it may appear in a message: unprintable characters escaped, long text cut."""
    if len(text) > limit:
        text = f"{text[: limit - 1]}… ({len(text):,} characters)"
    return _UNPRINTABLE.sub(lambda match: _escape(match[0]), text)


def quoted(text: str, *, limit: int = QUOTE_LIMIT) -> str:
    """Client input quoted in a message as plain text, never as a Python repr: `'text'`."""
    return f"'{plain(text, limit=limit)}'"


@dataclass(frozen=True)
class ParamError:
    """One problem with one query parameter."""

    param: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """Return the error as the `errors[]` entry of a problem document."""
        return {"param": self.param, "code": self.code, "message": self.message}


class ApiError(Exception):
    """Base of every error the service reports to a client or an operator."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    headers: ClassVar[dict[str, str]] = {}  # response headers the error calls for

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def problem(
        self, instance: str | None = None, *, max_errors: int = MAX_PROBLEM_ERRORS
    ) -> dict[str, Any]:
        """Return the RFC 9457 problem document for this error.

        :param max_errors: most `errors[]` entries listed; `errors_omitted` counts the rest.
        """
        body: dict[str, Any] = {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail(max_errors),
        }
        if instance:
            body["instance"] = instance
        body.update(self.details)
        errors = body.get("errors")
        if isinstance(errors, list) and len(errors) > max_errors:
            body["errors"] = errors[:max_errors]
            body["errors_omitted"] = len(errors) - max_errors
        return body

    def detail(self, max_errors: int = MAX_PROBLEM_ERRORS) -> str:  # noqa: ARG002
        """The `detail` of the problem document: the message."""
        return self.message


class NotFound(ApiError):
    """A package, version, resource or row that does not exist."""

    status = 404
    code = "not-found"
    title = "Not found"


class BadQuery(ApiError):
    """A query string with one or more problems; all of them are listed."""

    status = 400
    code = "bad-query"
    title = "Bad query"

    def __init__(self, errors: list[ParamError]) -> None:
        self.errors = errors
        super().__init__(self.detail(), details={"errors": [e.as_dict() for e in errors]})

    def detail(self, max_errors: int = MAX_PROBLEM_ERRORS) -> str:
        """Every problem counted, the first `max_errors` of them named."""
        listed = "; ".join(f"{plain(e.param)}: {e.message}" for e in self.errors[:max_errors])
        omitted = len(self.errors) - max_errors
        more = f"; and {omitted:,} more" if omitted > 0 else ""
        return f"{len(self.errors)} problem(s) in the query: {listed}{more}"


class NotAcceptable(ApiError):
    """The client asked for a representation we cannot produce."""

    status = 406
    code = "not-acceptable"
    title = "Not acceptable"


class ExportTooLarge(ApiError):
    """More rows match than a download in this format may hold; `csv_url` gives them as CSV."""

    status = 413
    code = "export-too-large"
    title = "Export too large"


class QueryTimeout(ApiError):
    """A query ran past the configured time limit."""

    status = 503
    code = "query-timeout"
    title = "Query took too long"


class DatabaseUnavailable(ApiError):
    """The database cannot be reached or read right now; retry after the Retry-After delay."""

    status = 503
    code = "database-unavailable"
    title = "Database unavailable"
    headers = {"Retry-After": "5"}


class PackageInvalid(ApiError):
    """A release failed validation; `details['report']` holds the frictionless report."""

    status = 422
    code = "package-invalid"
    title = "Invalid data package"


class ReleaseConflict(ApiError):
    """A release folder differs from what was already published under the same version."""

    status = 409
    code = "release-conflict"
    title = "Release conflict"


class PayloadTooLarge(ApiError):
    """A request body larger than the configured limit (`OPENDATA_MAX_BODY_BYTES`)."""

    status = 413
    code = "payload-too-large"
    title = "Request body too large"


class HeadersTooLarge(ApiError):
    """Request headers larger in total than the configured limit (`OPENDATA_MAX_HEADER_BYTES`)."""

    status = 431
    code = "headers-too-large"
    title = "Request headers too large"


class QueryTooLong(ApiError):
    """A query string longer than the configured limit (`OPENDATA_MAX_QUERY_BYTES`)."""

    status = 414
    code = "query-too-long"
    title = "Query string too long"


class TooManyParameters(ApiError):
    """More query parameters than the configured limit (`OPENDATA_MAX_QUERY_PARAMS`)."""

    status = 400
    code = "too-many-parameters"
    title = "Too many query parameters"


class BadHost(ApiError):
    """A Host (or trusted `X-Forwarded-Host`) header that does not name a server, or several."""

    status = 400
    code = "bad-host"
    title = "Bad Host header"


class CorsRefused(ApiError):
    """A CORS preflight asked for a method, header or origin this API does not allow."""

    status = 400
    code = "cors-refused"
    title = "CORS preflight refused"


def problem_types() -> dict[str, type[ApiError]]:
    """Every kind of problem the service reports, by its code (the end of its `type` URI)."""
    found: dict[str, type[ApiError]] = {}
    pending: list[type[ApiError]] = [ApiError]
    while pending:
        kind = pending.pop()
        found.setdefault(kind.code, kind)
        pending.extend(kind.__subclasses__())
    return found
