"""Relaying an authorised call to the service that owns the resource."""

from __future__ import annotations

from fastapi import Request, Response

from gateway.domain.keys import Principal
from gateway.state import gateway_state


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
