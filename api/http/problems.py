"""Every error leaves the service as RFC 9457 problem+json, rendered in one place."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.db.engine import database_unavailable
from api.errors import (
    MAX_PROBLEM_ERRORS,
    ApiError,
    BadQuery,
    ParamError,
)
from api.http.responses import ProblemResponse
from api.web.request_id import request_id_of


def problem_response(
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
) -> Response:
    """Serialize a problem document, with the id of the `request` it answers."""
    request_id = request_id_of(request.scope) if request is not None else None
    if request_id:
        body = {**body, "request_id": request_id}
    return ProblemResponse(body, headers=headers)


def _http_problem(status: int, detail: str, instance: str) -> dict[str, Any]:
    titles = {404: "Not found", 405: "Method not allowed", 406: "Not acceptable"}
    return {
        "type": "about:blank",
        "title": titles.get(status, "HTTP error"),
        "status": status,
        "detail": detail,
        "instance": instance,
    }


def _max_errors(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    return settings.max_problem_errors if settings is not None else MAX_PROBLEM_ERRORS


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem documents."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        body = exc.problem(str(request.url.path), max_errors=_max_errors(request))
        return problem_response(body, headers=exc.headers or None, request=request)

    @app.exception_handler(sa.exc.SQLAlchemyError)
    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(psycopg.Error)
    async def database_error(request: Request, exc: Exception) -> Response:
        # Registered for the class, the handler renders inside the CORS middleware. An error
        # that is not a lost database (a programming error) stays a 500.
        lost = database_unavailable(exc)
        if lost is None:
            raise exc
        return await api_error(request, lost)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            ParamError(
                param=".".join(str(p) for p in err.get("loc", ())[1:]) or "request",
                code="invalid-value",
                message=str(err.get("msg", "invalid")),
            )
            for err in exc.errors()
        ]
        return await api_error(request, BadQuery(errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(
            _http_problem(exc.status_code, detail, str(request.url.path)),
            headers=headers,
            request=request,
        )
