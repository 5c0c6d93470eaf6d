"""Rate limits and Idempotency-Key for every route, driven by the route table.

Pure ASGI, inside the kit's body guard (a body read here is bounded). A request that carries
an API key is authenticated here (the key cache: the route's own check then costs a lookup)
and admitted by its key's token bucket (429 ``rate_limited`` with ``Retry-After``); a POST to
a route that answers 201 or 202 with an ``Idempotency-Key`` goes through
:class:`~gateway.protection.idempotency.Idempotent`. Anything else — no key, a key that does
not verify (the route answers 401), a database that cannot be asked — passes on unchanged.
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from cortex_kit.errors import CortexError
from cortex_kit.logs import get_logger
from cortex_kit.runtime import Runtime
from cortex_kit.web import problem_response
from gateway.auth.service import authenticate
from gateway.domain.keys import Principal
from gateway.protection.errors import RateLimited
from gateway.protection.idempotency import (
    HEADER,
    Idempotent,
    invalid_key,
    read_body,
    replaying,
    request_hash,
)
from gateway.protection.limits import Refusal
from gateway.state import GatewayState, gateway_state

log = get_logger("gateway.protection")
CREATED = frozenset({201, 202})
SIGNED_DELIVERIES = re.compile(r"^/v1/webhooks/(github|gitlab|pagerduty)/?$")
"""Webhook deliveries: authenticated by the provider's signature, never by an API key, so an
Authorization header on them names nobody whose bucket they should spend."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _bearer(scope: Scope) -> str | None:
    authorization = _header(scope, b"authorization")
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


class CreatingRoutes:
    """The POST routes that answer 201 or 202 (they create), read from the app's route table
    once, on the first request (every router is included by then)."""

    def __init__(self) -> None:
        self._patterns: list[re.Pattern[str]] | None = None

    def match(self, app: Any, scope: Scope) -> bool:
        if scope["method"] != "POST":
            return False
        if self._patterns is None:
            self._patterns = _creating_patterns(app)
        path: str = scope["path"]
        return any(pattern.match(path) for pattern in self._patterns)


def _creating_patterns(app: Any) -> list[re.Pattern[str]]:
    patterns: list[re.Pattern[str]] = []
    for route in iter_route_contexts(app.routes):
        path = route.path_format
        creates = getattr(route, "status_code", None) in CREATED
        if creates and "POST" in (route.methods or ()) and isinstance(path, str):
            patterns.append(compile_path(path)[0])
    return patterns


def _rate_limited(refusal: Refusal) -> RateLimited:
    limit = refusal.limit
    return RateLimited(
        f"This API key may make {limit.per_s:g} requests per second on average, {limit.burst} "
        "at once; it has none left.",
        remediation="Wait for the Retry-After delay, then slow down (spread the calls, or "
        "batch them); ask an operator for a higher limit for this key if it needs one.",
        extra={
            "limit_per_s": limit.per_s,
            "burst": limit.burst,
            "retry_after_s": round(refusal.retry_after_s, 3),
        },
    )


class ProtectionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.creating = CreatingRoutes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _bearer(scope) if scope["type"] == "http" else None
        if token is None or SIGNED_DELIVERIES.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        app = scope["app"]
        runtime: Runtime = app.state.runtime
        state = gateway_state.in_app(app)
        principal = await _principal(runtime, state, token)
        if principal is None:
            await self.app(scope, receive, send)
            return
        if state.limiter is not None:
            refusal = await state.limiter.admit(principal.key_id)
            if refusal is not None:
                await _refuse(scope, send, _rate_limited(refusal), refusal.retry_after_s)
                return
        key = _header(scope, HEADER)
        if key is None or not self.creating.match(app, scope):
            await self.app(scope, receive, send)
            return
        await self._idempotent(scope, receive, send, runtime, state, principal, key)

    async def _idempotent(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        runtime: Runtime,
        state: GatewayState,
        principal: Principal,
        key: str,
    ) -> None:
        invalid = invalid_key(key)
        if invalid is not None:
            await _refuse(scope, send, invalid)
            return
        body = await read_body(receive)
        if isinstance(body, bytes):
            run = Idempotent(
                runtime.db, state.idempotency, principal.key_id, key, request_hash(scope, body)
            )
            await run.run(self.app, scope, replaying(body, receive), send)
        else:  # too large: the route refuses it as it would without the key
            await self.app(scope, replaying(body, receive), send)


async def _principal(runtime: Runtime, state: GatewayState, token: str) -> Principal | None:
    try:
        return await authenticate(runtime.db, token, state.key_cache, state.people)
    except CortexError:
        return None  # the route answers 401 itself
    except Exception as exc:  # the database: the route answers 503 itself
        log.warning("protection.authenticate_failed", error=type(exc).__name__)
        return None


async def _refuse(
    scope: Scope, send: Send, error: CortexError, retry_after_s: float | None = None
) -> None:
    headers = None
    if retry_after_s is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}
    response = problem_response(error.status, error.problem(scope["path"]), headers)

    async def no_body() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)
