"""Relaying an authorised call to the service that owns the resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

from fastapi import Request, Response

from gateway.auth.deps import resolve_agency
from gateway.domain.keys import Principal
from gateway.state import gateway_state


def segment(value: str) -> str:
    """A path parameter re-encoded for the upstream path exactly as the caller sent it: the
    gateway's router decodes ``%23``/``%3F``/``%2F``, which would otherwise cut the id short
    or smuggle a query string to the service."""
    return quote(value, safe="")


async def relay(
    request: Request,
    caller: Principal,
    service: str,
    path: str,
    agency: str,
    *,
    with_body: bool = False,
    with_identity: bool = False,
    params: Mapping[str, str] | None = None,
    headers: Sequence[str] = (),
    extra_timeout_s: float = 0.0,
) -> Response:
    """Forward method, query (without ``agency``) and, if asked, the raw body to ``service``.

    ``with_identity`` also sends (signed) the caller's roles — the key's role and its approval
    roles — and team; ``params`` replace query values; ``headers`` names request headers passed
    on as they are; ``extra_timeout_s`` lengthens the upstream timeout of this call (a
    long-poll's wait)."""
    query = {k: v for k, v in request.query_params.multi_items() if k != "agency"}
    state = gateway_state(request)
    return await state.upstreams.forward(
        service,
        request.method,
        path,
        agency=agency,
        principal=caller.key_id,
        params={**query, **(params or {})},
        content=await request.body() if with_body else None,
        content_type=request.headers.get("content-type") if with_body else None,
        request_id=request.headers.get("x-request-id"),
        roles=caller.approver_roles if with_identity else (),
        team=caller.team if with_identity else None,
        timeout_s=state.upstreams.timeout_s + extra_timeout_s if extra_timeout_s else None,
        extra_headers={h: v for h in headers if (v := request.headers.get(h)) is not None},
    )


class ScopedRelay:
    """Relay to one service for the agency the call acts on (``resolve_agency``): what every
    feature that forwards to a service repeats, with its service and whether it passes on the
    caller's identity fixed once."""

    def __init__(self, service: str, *, with_identity: bool = False) -> None:
        self.service = service
        self.with_identity = with_identity

    async def __call__(
        self,
        request: Request,
        caller: Principal,
        path: str,
        agency: str | None,
        *,
        with_body: bool = False,
        params: dict[str, str] | None = None,
        headers: tuple[str, ...] = (),
        extra_timeout_s: float = 0.0,
    ) -> Response:
        return await relay(
            request,
            caller,
            self.service,
            path,
            resolve_agency(caller, request, agency),
            with_body=with_body,
            with_identity=self.with_identity,
            params=params,
            headers=headers,
            extra_timeout_s=extra_timeout_s,
        )
