"""HTTP plumbing: problem+json errors, request ids, tracing/metrics middleware, health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cortex_kit.errors import DOCS_BASE, CortexError
from cortex_kit.logs import get_logger
from cortex_kit.observability import HTTP_LATENCY, HTTP_REQUESTS

PROBLEM_JSON = "application/problem+json"
log = get_logger("cortex.web")


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _problem(
    status: int, code: str, title: str, detail: str, remediation: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"{DOCS_BASE}#{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "remediation": remediation,
        **extra,
    }
    return problem_response(status, body)


async def _cortex_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CortexError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(exc.status, exc.problem(request.url.path), headers)


def _clean_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) for p in err.get("loc", ())],
            "message": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in errors
    ]


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_validation_errors(exc.errors())
    where = "; ".join(f"{'.'.join(e['loc'])}: {e['message']}" for e in errors[:5])
    return _problem(
        422,
        "invalid_request",
        "Invalid request",
        f"The request does not match the schema: {where}",
        "Fix the fields listed in `errors`; the OpenAPI document at /openapi.json has the schema.",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _problem(
            404,
            "route_not_found",
            "Not found",
            f"No route {request.url.path}.",
            "Check the path against the API reference (/docs).",
        )
    if exc.status_code == 405:
        return _problem(
            405,
            "method_not_allowed",
            "Method not allowed",
            f"{request.method} is not allowed on {request.url.path}.",
            "Use one of the methods the API reference lists for this path.",
        )
    return _problem(
        exc.status_code,
        "http_error",
        "HTTP error",
        str(exc.detail),
        "See the API reference for this endpoint.",
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("http.unhandled_error", path=request.url.path, error=type(exc).__name__)
    return _problem(
        500,
        "internal_error",
        "Internal error",
        "The server failed to handle this request; it has been logged.",
        "Retry later; if it persists, report it with the X-Request-ID header of this response.",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CortexError, _cortex_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


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
                503,
                "not_ready",
                "Not ready",
                "; ".join(f"{k}: {v}" for k, v in failures.items()),
                "Check that PostgreSQL and NATS are reachable and migrations applied.",
                checks=dict.fromkeys(failures, "fail"),
            )
        return JSONResponse({"status": "ready", "checks": dict.fromkeys(readiness.checks, "ok")})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


AGENCY_HEADER = "X-Cortex-Agency"
PRINCIPAL_HEADER = "X-Cortex-Principal"


def caller_agency(request: Request) -> str:
    """The agency in ``X-Cortex-Agency``, or 400 ``agency_required``: what ``CallerAgency``
    injects, for hot paths that skip FastAPI's dependency machinery."""
    return _require_agency(request.headers.get(AGENCY_HEADER))


def _require_agency(agency: str | None) -> str:
    if not agency:
        raise CortexError(
            f"The {AGENCY_HEADER} header is missing.",
            remediation="Call the service through the gateway, which sets the caller's agency.",
            code="agency_required",
        )
    return agency


async def _caller_agency(
    x_cortex_agency: Annotated[str | None, Header(alias=AGENCY_HEADER)] = None,
) -> str:
    return _require_agency(x_cortex_agency)


CallerAgency = Annotated[str, Depends(_caller_agency)]
"""The agency the gateway authorised this call for (services trust the gateway)."""
