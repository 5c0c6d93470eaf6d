"""HTTP clients to the services; the gateway reads no service table, it asks the service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from fastapi.responses import Response
from opentelemetry.trace import SpanKind

from cortex_kit.errors import UpstreamUnavailable
from cortex_kit.observability import inject_context, tracer
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER, PROBLEM_JSON, ROLES_HEADER, TEAM_HEADER

# Response headers of a service that mean something to the client and are passed on.
_RELAYED_HEADERS = ("retry-after", "allow", "location")


class Upstreams:
    def __init__(self, urls: Mapping[str, str], timeout_s: float, *, signer: httpx.Auth) -> None:
        self.timeout_s = timeout_s
        # The signer adds X-Cortex-Signature to each request as sent (cortex_kit.internal_auth):
        # services refuse any call without it.
        self._clients = {
            name: httpx.AsyncClient(
                base_url=url,
                timeout=timeout_s,
                auth=signer,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            )
            for name, url in urls.items()
        }

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
        for a call that is meant to take longer (a long-poll). ``extra_headers`` are passed on
        as they are (``Idempotency-Key``)."""
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
            span.set_attribute("http.status_code", resp.status_code)
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
    ) -> httpx.Response:
        headers = inject_context(
            {**extra_headers, AGENCY_HEADER: agency, PRINCIPAL_HEADER: principal}
        )
        if roles:
            headers[ROLES_HEADER] = ",".join(roles)
        if team:
            headers[TEAM_HEADER] = team
        if request_id:
            headers["X-Request-ID"] = request_id
        if content_type:
            headers["Content-Type"] = content_type
        try:
            resp = await self._clients[service].request(
                method,
                path,
                params=params,
                json=json,
                content=content,
                headers=dict(headers),
                timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s,
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"The {service} service did not answer: {type(exc).__name__}.",
                remediation="Retry shortly; check `GET /readyz` of that service.",
                extra={"service": service},
            ) from exc
        return resp

    def _relay(self, service: str, resp: httpx.Response) -> Response:
        media = resp.headers.get("content-type", "application/json")
        if resp.status_code >= 500 and PROBLEM_JSON not in media:
            raise UpstreamUnavailable(
                f"The {service} service failed with {resp.status_code}.",
                remediation="Retry shortly; check the service logs.",
                extra={"service": service},
            )
        headers = {k: v for k in _RELAYED_HEADERS if (v := resp.headers.get(k)) is not None}
        # The body is relayed byte for byte: re-encoding it would cost a JSON round trip.
        return Response(
            resp.content, status_code=resp.status_code, media_type=media, headers=headers
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
