"""Internal trust: the gateway signs every call it makes to a service; services accept no other.

A service believes the caller's agency and principal from the ``X-Cortex-Agency`` and
``X-Cortex-Principal`` headers (and the caller's ``X-Cortex-Roles`` and ``X-Cortex-Team`` where
sent), so anything that can reach its port must not be able to set them. The gateway adds
``X-Cortex-Signature: v1:<unix seconds>:<hex HMAC-SHA256>`` under the cluster's internal
secret, over the method, the raw path, the raw query, those headers and the timestamp (roles
and team only when present, so a call without them is signed as before); a service answers 401
``internal_signature_invalid`` to a request whose signature is missing, wrong or older (or
newer) than ``max_age_s``. A signature therefore cannot be moved to another path, query,
agency, principal, roles or team, and a captured one expires within seconds. The body
is not signed (it would cost a read of every body before routing): the signature authenticates
who asks for what on whose behalf; confidentiality of the wire is the network's (docs/operations.md
"Internal trust"). ``/healthz``, ``/readyz`` and ``/metrics`` stay open for probes and scrapers.

One HMAC of a short message costs about a microsecond, so the check stays off the latency budget
of the authorize hot path.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING

import httpx
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from cortex_kit.errors import InternalSignatureInvalid
from cortex_kit.logs import get_logger
from cortex_kit.web import (
    AGENCY_HEADER,
    PRINCIPAL_HEADER,
    ROLES_HEADER,
    TEAM_HEADER,
    problem_response,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cortex_kit.settings import ProcessSettings

__all__ = [
    "OPEN_PATHS",
    "SIGNATURE_HEADER",
    "InternalAuthMiddleware",
    "InternalSigner",
    "install_internal_auth",
    "sign",
]

SIGNATURE_HEADER = "X-Cortex-Signature"
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_VERSION = b"v1"
_SIGNATURE = SIGNATURE_HEADER.lower().encode()
_AGENCY = AGENCY_HEADER.lower().encode()
_PRINCIPAL = PRINCIPAL_HEADER.lower().encode()
_ROLES = ROLES_HEADER.lower().encode()
_TEAM = TEAM_HEADER.lower().encode()
_IDENTITY = (_AGENCY, _PRINCIPAL, _ROLES, _TEAM)
log = get_logger("cortex.internal_auth")


def _key(secret: SecretStr | str) -> bytes:
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return value.encode()


def _identity_fields(agency: bytes, principal: bytes, roles: bytes, team: bytes) -> list[bytes]:
    """Agency and principal always; roles and team named, and only when sent."""
    fields = [agency, principal]
    if roles:
        fields.append(b"roles:" + roles)
    if team:
        fields.append(b"team:" + team)
    return fields


def _mac(key: bytes, timestamp: bytes, fields: Iterable[bytes]) -> str:
    message = b"\n".join((_VERSION, timestamp, *fields))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(
    secret: SecretStr | str,
    method: str,
    target: bytes,
    agency: bytes = b"",
    principal: bytes = b"",
    *,
    roles: bytes = b"",
    team: bytes = b"",
    now: float | None = None,
) -> str:
    """The ``X-Cortex-Signature`` value of a request to ``target`` (raw path ``?`` raw query, as
    on the wire), made at ``now`` (default: the current time)."""
    path, _, query = target.partition(b"?")
    timestamp = str(int(time.time() if now is None else now)).encode()
    fields = (
        method.upper().encode(),
        path,
        query,
        *_identity_fields(agency, principal, roles, team),
    )
    mac = _mac(_key(secret), timestamp, fields)
    return f"v1:{timestamp.decode()}:{mac}"


class InternalSigner(httpx.Auth):
    """httpx auth that signs each request as it is sent, after httpx has encoded its URL, so the
    signed path and query are exactly the bytes the service receives."""

    def __init__(self, secret: SecretStr | str) -> None:
        self._secret = SecretStr(_key(secret).decode())

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        found: dict[bytes, bytes] = {}
        for name, value in request.headers.raw:
            lowered = name.lower()
            if lowered in _IDENTITY:
                found.setdefault(lowered, value)
        request.headers[SIGNATURE_HEADER] = sign(
            self._secret,
            request.method,
            request.url.raw_path,
            found.get(_AGENCY, b""),
            found.get(_PRINCIPAL, b""),
            roles=found.get(_ROLES, b""),
            team=found.get(_TEAM, b""),
        )
        yield request


_REASONS = {
    "missing": f"The request carries no {SIGNATURE_HEADER} header.",
    "malformed": f"The {SIGNATURE_HEADER} header is not v1:<unix seconds>:<hex HMAC-SHA256>.",
    "ambiguous": f"The request repeats {AGENCY_HEADER}, {PRINCIPAL_HEADER}, {ROLES_HEADER}, "
    f"{TEAM_HEADER} or {SIGNATURE_HEADER}.",
    "expired": f"The {SIGNATURE_HEADER} timestamp is outside the accepted window.",
    "mismatch": f"The {SIGNATURE_HEADER} does not match this request.",
}


class InternalAuthMiddleware:
    """Pure ASGI: refuses (401 problem+json) every request but the probes that the gateway did
    not sign with this cluster's internal secret within the last ``max_age_s`` seconds."""

    def __init__(self, app: ASGIApp, secret: SecretStr, max_age_s: float) -> None:
        self.app = app
        self._key = _key(secret)
        self._max_age_s = max_age_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        reason = self._rejection(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        log.warning("internal_auth.rejected", reason=reason, method=scope.get("method"))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _refusal(reason, scope["path"])(scope, receive, send)

    def _rejection(self, scope: Scope) -> str | None:
        signature = None
        identity: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name == _SIGNATURE:
                if signature is not None:
                    return "ambiguous"
                signature = value
            elif name in _IDENTITY:
                if name in identity:
                    return "ambiguous"
                identity[name] = value
        if signature is None:
            return "missing"
        version, _, rest = signature.partition(b":")
        timestamp, _, mac = rest.partition(b":")
        if version != _VERSION or not timestamp.isdigit() or len(mac) != 64:
            return "malformed"
        if abs(time.time() - int(timestamp)) > self._max_age_s:
            return "expired"
        raw_path = scope.get("raw_path") or scope["path"].encode()
        fields = (
            scope.get("method", "GET").encode(),
            raw_path,
            scope["query_string"],
            *_identity_fields(*(identity.get(name, b"") for name in _IDENTITY)),
        )
        if not hmac.compare_digest(_mac(self._key, timestamp, fields).encode(), mac):
            return "mismatch"
        return None


def _refusal(reason: str, path: str) -> JSONResponse:
    error = InternalSignatureInvalid(
        _REASONS[reason],
        remediation="Call this service through the gateway, which signs each request. A "
        "gateway that gets this answer has another internal secret than the service "
        "(CORTEX_<PROCESS>_INTERNAL_SECRET must be the same on every process) or a clock more "
        "than the allowed seconds apart; see docs/operations.md 'Internal trust'.",
    )
    return problem_response(error.status, error.problem(path))


def install_internal_auth(app: FastAPI, settings: ProcessSettings) -> None:
    """Services verify signatures; a process that is itself the public edge (the gateway) does
    not (its settings class says so with ``verifies_internal_signatures = False``)."""
    if settings.verifies_internal_signatures:
        app.add_middleware(
            InternalAuthMiddleware,
            secret=settings.internal_secret,
            max_age_s=settings.internal_signature_max_age_s,
        )
