"""HTTP clients to the services; the gateway reads no service table, it asks the service.

One aiohttp session (keep-alive pool per service) carries every call: on the authorize path
the client's cost is most of the gateway's own, and aiohttp's is a fraction of httpx's
(``python -m benchmarks gateway``). The gateway builds each request's path and query itself and
signs exactly those bytes (``X-Cortex-Signature``, cortex_kit.internal_auth): the URL is handed
to aiohttp as already encoded, so what is signed is what the service receives.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import aiohttp
from fastapi.responses import Response
from multidict import CIMultiDictProxy
from opentelemetry.trace import SpanKind
from pydantic import SecretStr
from yarl import URL

from cortex_kit.errors import UpstreamTimeout, UpstreamUnavailable
from cortex_kit.internal_auth import SIGNATURE_HEADER, sign
from cortex_kit.observability import inject_context, tracer
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER, PROBLEM_JSON, ROLES_HEADER, TEAM_HEADER

# Response headers of a service that mean something to the client and are passed on.
_RELAYED_HEADERS = ("retry-after", "allow", "location")
_MAX_CONNECTIONS = 100
_KEEPALIVE_S = 3.0
"""An idle pooled connection is closed before the services' uvicorn closes it (its
``timeout_keep_alive`` is 5 s): reusing one the service is closing fails the call
(``ServerDisconnectedError``), which bursty callers — a fleet's heartbeats — otherwise hit."""
_MAX_HELD_CONNECTIONS = 10_000
"""Long-polls (an agent's desired revision, a deployment record, an approval) are held by the
service for up to 30 s each: they get their own pool, so a fleet's long-polls never queue the
ordinary calls (heartbeats, the PUT that answers them) behind ``_MAX_CONNECTIONS``."""


class _Answer:
    """A service's answer, read whole."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: CIMultiDictProxy[str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class Upstreams:
    def __init__(
        self, urls: Mapping[str, str], timeout_s: float, *, secret: SecretStr | str
    ) -> None:
        self.timeout_s = timeout_s
        self._urls = {name: url.rstrip("/") for name, url in urls.items()}
        # Every call is signed with the cluster's internal secret: services refuse any other.
        self._secret = secret
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    def _client(self, held: bool = False) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop (aiohttp binds a session to its loop).
        session = self._sessions.get(held)
        if session is None:
            limit = _MAX_HELD_CONNECTIONS if held else _MAX_CONNECTIONS
            session = self._sessions[held] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=limit,
                    limit_per_host=limit,
                    use_dns_cache=True,
                    keepalive_timeout=_KEEPALIVE_S,
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            )
        return session

    async def forward(
        self,
        service: str,
        method: str,
        path: str,
        *,
        agency: str,
        principal: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        request_id: str | None = None,
        roles: Sequence[str] = (),
        team: str | None = None,
        timeout_s: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Call a service on behalf of an authorised caller and relay its answer as is.

        ``roles`` and ``team`` are sent (and signed) only when given: the services that decide
        by them read them (the approval workflow). ``timeout_s`` replaces the default timeout
        for a call that is meant to take longer (a long-poll), which then goes through the
        pool of held calls. ``extra_headers`` are passed on as they are (``Idempotency-Key``)."""
        with tracer("cortex.gateway").start_as_current_span(
            f"{method} {service}", kind=SpanKind.CLIENT
        ) as span:
            span.set_attribute("peer.service", service)
            resp = await self._send(
                service,
                method,
                path,
                agency=agency,
                principal=principal,
                params=params,
                json=json,
                content=content,
                content_type=content_type,
                request_id=request_id,
                roles=roles,
                team=team,
                timeout_s=timeout_s,
                extra_headers=extra_headers or {},
            )
            span.set_attribute("http.status_code", resp.status)
        return self._relay(service, resp)

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        agency: str,
        principal: str,
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | None,
        content_type: str | None,
        request_id: str | None,
        roles: Sequence[str],
        team: str | None,
        timeout_s: float | None,
        extra_headers: Mapping[str, str],
    ) -> _Answer:
        target = path + (f"?{urlencode(params, doseq=True)}" if params else "")
        headers = inject_context(
            {**extra_headers, AGENCY_HEADER: agency, PRINCIPAL_HEADER: principal}
        )
        joined_roles = ",".join(roles)
        if joined_roles:
            headers[ROLES_HEADER] = joined_roles
        if team:
            headers[TEAM_HEADER] = team
        if request_id:
            headers["X-Request-ID"] = request_id
        if json is not None:
            content = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        headers[SIGNATURE_HEADER] = sign(
            self._secret,
            method,
            target.encode(),
            agency.encode(),
            principal.encode(),
            roles=joined_roles.encode(),
            team=(team or "").encode(),
        )
        # Always explicit: aiohttp reads `timeout=None` as "no timeout at all", not as the
        # session's default.
        limit = self.timeout_s if timeout_s is None else timeout_s
        timeout = aiohttp.ClientTimeout(total=limit)
        try:
            async with self._client(held=timeout_s is not None).request(
                method,
                URL(self._urls[service] + target, encoded=True),
                data=content,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                return _Answer(resp.status, resp.headers, await resp.read())
        except TimeoutError as exc:  # before ClientError: aiohttp's timeouts are both
            raise UpstreamTimeout(
                f"The {service} service did not answer within {limit:g} s; the outcome of "
                "the call is unknown.",
                remediation="Read the resource back before retrying a change, or retry it "
                "with the same Idempotency-Key; a read can be retried as it is.",
                extra={"service": service, "timeout_s": limit},
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                f"The {service} service did not answer: {type(exc).__name__}.",
                remediation="Retry shortly; check `GET /readyz` of that service.",
                extra={"service": service},
            ) from exc

    def _relay(self, service: str, resp: _Answer) -> Response:
        media = resp.headers.get("content-type", "application/json")
        if resp.status >= 500 and PROBLEM_JSON not in media:
            raise UpstreamUnavailable(
                f"The {service} service failed with {resp.status}.",
                remediation="Retry shortly; check the service logs.",
                extra={"service": service},
            )
        headers = {k: v for k in _RELAYED_HEADERS if (v := resp.headers.get(k)) is not None}
        # The body is relayed byte for byte: re-encoding it would cost a JSON round trip.
        return Response(resp.body, status_code=resp.status, media_type=media, headers=headers)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
