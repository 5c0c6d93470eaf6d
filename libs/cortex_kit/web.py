"""HTTP plumbing: problem+json errors, request ids, tracing/metrics middleware, health."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
import structlog
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cortex_kit.db import DbFailure, classify_db_error
from cortex_kit.errors import PROBLEM_JSON as PROBLEM_JSON  # callers import it from here
from cortex_kit.errors import (
    AgencyRequired,
    CortexError,
    HttpError,
    InternalError,
    InvalidPath,
    InvalidRequest,
    InvalidValue,
    MalformedBody,
    MethodNotAllowed,
    NotReady,
    PayloadTooLarge,
    RouteNotFound,
    UpstreamUnavailable,
)
from cortex_kit.logs import get_logger
from cortex_kit.observability import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger("cortex.web")


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _problem(error: CortexError) -> JSONResponse:
    return problem_response(error.status, error.problem())


def _error_headers(exc: CortexError) -> dict[str, str] | None:
    if exc.status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if exc.retry_after_s is not None:
        return {"Retry-After": str(exc.retry_after_s)}
    return None


async def _cortex_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CortexError)
    return problem_response(exc.status, exc.problem(request.url.path), _error_headers(exc))


# pydantic puts this before the message of a validator's ValueError; the message is the fix.
_VALUE_ERROR = "Value error, "


def _clean_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) for p in err.get("loc", ())],
            "message": str(err.get("msg", "")).removeprefix(_VALUE_ERROR),
            "type": str(err.get("type", "")),
        }
        for err in errors
    ]


def field_path(loc: Sequence[str]) -> str:
    """``["body", "events", "0", "deployment", "service"]`` → ``events[0].deployment.service``
    (where the request got it wrong, as its author writes it)."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or ".".join(loc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_validation_errors(exc.errors())
    where = "; ".join(f"{field_path(e['loc'])}: {e['message']}" for e in errors[:5])
    return _problem(
        InvalidRequest(
            f"The request does not match the schema: {where}",
            remediation="Fix the fields listed in `errors`; the OpenAPI document at "
            "/openapi.json has the schema.",
            extra={"errors": errors},
        )
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, BodyOverLimit):
        return _too_large(request.url.path, exc.limit_bytes)
    if exc.status_code == 404:
        return _problem(
            RouteNotFound(
                f"No route {request.url.path}.",
                remediation="Check the path against the API reference (/docs).",
            )
        )
    if exc.status_code == 400 and exc.detail == FASTAPI_UNPARSABLE_BODY:
        return _problem(
            MalformedBody(
                "The body cannot be read as JSON (it is not UTF-8, or it is cut short).",
                remediation="Send a UTF-8 JSON document with Content-Type: application/json; "
                "its schema is in /openapi.json.",
            )
        )
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        response = _problem(
            MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}.",
                remediation=f"Use one of: {', '.join(allowed)}."
                if allowed
                else "See the API reference.",
                extra={"allowed_methods": allowed},
            )
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return _problem(
        HttpError(
            exc.status_code,
            str(exc.detail),
            remediation="See the API reference for this endpoint.",
        )
    )


FASTAPI_UNPARSABLE_BODY = "There was an error parsing the body"
"""FastAPI's 400 detail for a body its JSON decoder could not even read."""
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app fully matches on this path (routes are one per
    method, and included routers nest, so each method is tried against the whole table)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def _database_problem(request: Request, exc: Exception) -> Response | None:
    """A database outage is a 503 the client may retry; input the database cannot hold is a
    422. Either way the transaction rolled back: nothing was stored."""
    failure = classify_db_error(exc)
    if failure is DbFailure.UNAVAILABLE:
        log.warning("http.database_unavailable", path=request.url.path, error=type(exc).__name__)
        error: CortexError = UpstreamUnavailable(
            "The database is unavailable or the transaction conflicted; nothing was stored.",
            remediation="Retry after the Retry-After delay; check `GET /readyz`.",
            extra={"dependency": "postgresql"},
        )
    elif failure is DbFailure.INVALID_INPUT:
        error = InvalidValue(
            "A value in the request cannot be stored (for example a NUL character in a "
            "string, or a number out of range); nothing was stored.",
            remediation="Remove control characters from strings and keep integers within 64 bits.",
        )
    else:
        return None
    return problem_response(error.status, error.problem(request.url.path), _error_headers(error))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    """A database failure (outage, refused value) is answered as such; anything else is a bug."""
    return _database_problem(request, exc) or _internal_error(request, exc)


def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("http.unhandled_error", path=request.url.path, error=type(exc).__name__)
    return _problem(
        InternalError(
            "The server failed to handle this request; it has been logged.",
            remediation="Retry later; if it persists, report it with the X-Request-ID header "
            "of this response.",
        )
    )


# Database failures are handled inside the app (not by the outermost server-error handler,
# which re-raises and logs a traceback for what is an outage, not a bug).
_DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CortexError, _cortex_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for error_type in _DATABASE_ERRORS:
        app.add_exception_handler(error_type, _unexpected_error)
    app.add_exception_handler(Exception, _unexpected_error)


class BodyOverLimit(StarletteHTTPException):
    """A request body over its route's limit (raised while the body is read)."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {limit_bytes} bytes.")
        self.limit_bytes = limit_bytes


def _too_large(path: str, limit_bytes: int) -> JSONResponse:
    return _problem(
        PayloadTooLarge(
            f"The request body for {path} is larger than its limit of {limit_bytes} bytes.",
            remediation="Send a smaller body: split batches into several requests.",
            extra={"limit_bytes": limit_bytes},
        )
    )


def _invalid_path() -> JSONResponse:
    return _problem(
        InvalidPath(
            "The path contains control characters (such as %00 or %0A), which no id may hold.",
            remediation="Remove control characters from the ids in the path.",
        )
    )


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class RequestGuard:
    """Refuses, before any route runs, what no route may receive: a body over the route's
    limit (413, from ``Content-Length`` or counted while it streams in) and a path with
    control characters (400). Limits are per path prefix; the longest matching one wins."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, body_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._limits = sorted((body_limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self._limits:
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if _CONTROL_CHARACTERS.search(path):
            await _invalid_path()(scope, receive, send)
            return
        limit = self.limit_for(path)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(path, limit)(scope, receive, send)
            return
        await self.app(scope, _counting(receive, limit), send)


def _counting(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyOverLimit(limit)
        return message

    return counted


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class ObservabilityMiddleware:
    """Request id (bound to logs, echoed in ``X-Request-ID``) and Prometheus request metrics.

    Pure ASGI for speed on the hot path; the route label is the template, never the raw path.
    Server spans come from FastAPI's native OpenTelemetry support (context from the caller's
    ``traceparent``), so this middleware does not create its own.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        start = time.perf_counter()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope)
            HTTP_REQUESTS.labels(
                self.service, scope["method"], route, str(status_holder["status"])
            ).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], route).observe(
                time.perf_counter() - start
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when healthy, else a human reason."""


@dataclass
class Readiness:
    checks: dict[str, ReadinessCheck]

    async def evaluate(self) -> dict[str, str]:
        failures: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                reason = await check()
            except Exception as exc:  # a probe must never crash: report it as not ready
                reason = f"{type(exc).__name__}: {exc}"
            if reason is not None:
                failures[name] = reason
        return failures


def install_health(app: FastAPI, readiness: Readiness) -> None:
    """``/healthz`` (alive), ``/readyz`` (dependencies), ``/metrics`` (Prometheus)."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        failures = await readiness.evaluate()
        if failures:
            return _problem(
                NotReady(
                    "; ".join(f"{k}: {v}" for k, v in failures.items()),
                    remediation="Check that PostgreSQL and NATS are reachable and migrations "
                    "applied.",
                    extra={"checks": dict.fromkeys(failures, "fail")},
                )
            )
        return JSONResponse({"status": "ready", "checks": dict.fromkeys(readiness.checks, "ok")})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


AGENCY_HEADER = "X-Cortex-Agency"
PRINCIPAL_HEADER = "X-Cortex-Principal"
# The caller's roles (comma-separated) and team, for services that authorise by them (the
# approval workflow); signed with the agency and principal when the gateway sends them.
ROLES_HEADER = "X-Cortex-Roles"
TEAM_HEADER = "X-Cortex-Team"


def caller_agency(request: Request) -> str:
    """The agency in ``X-Cortex-Agency``, or 400 ``agency_required``: what ``CallerAgency``
    injects, for hot paths that skip FastAPI's dependency machinery."""
    return _require_agency(request.headers.get(AGENCY_HEADER))


def _require_agency(agency: str | None) -> str:
    if not agency:
        raise AgencyRequired(
            f"The {AGENCY_HEADER} header is missing.",
            remediation="Call the service through the gateway, which sets the caller's agency.",
        )
    return agency


async def _caller_agency(
    x_cortex_agency: Annotated[str | None, Header(alias=AGENCY_HEADER)] = None,
) -> str:
    return _require_agency(x_cortex_agency)


CallerAgency = Annotated[str, Depends(_caller_agency)]
"""The agency the gateway authorised this call for (services trust the gateway)."""
