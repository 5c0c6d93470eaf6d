"""Relaying an authorised call to the service that owns the resource."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request, Response

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
) -> Response:
    """Forward method, query (without ``agency``) and, if asked, the raw body to ``service``."""
    params = {k: v for k, v in request.query_params.multi_items() if k != "agency"}
    return await gateway_state(request).upstreams.forward(
        service,
        request.method,
        path,
        agency=agency,
        principal=caller.key_id,
        params=params,
        content=await request.body() if with_body else None,
        content_type=request.headers.get("content-type") if with_body else None,
        request_id=request.headers.get("x-request-id"),
    )
