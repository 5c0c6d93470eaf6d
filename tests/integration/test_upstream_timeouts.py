"""A service that does not answer in time is a 504 `upstream_timeout` (the outcome is unknown);
one that cannot be reached is a 503 `upstream_unavailable` (nothing happened): never a 500."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI, Request, Response

from cortex_kit.embedded import free_port

from .conftest import ADMIN_KEY, Cluster, gateway_settings, serve_app


def _slow_service(delay_s: float) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/authorize")
    async def authorize(request: Request) -> Response:
        await asyncio.sleep(delay_s)
        return Response(b"{}", media_type="application/json")

    return app


async def test_a_service_slower_than_the_timeout_is_a_504_and_a_gone_one_a_503(
    cluster: Cluster,
) -> None:
    from gateway.app import create_app as gateway_app

    slow = await serve_app(lambda _port: _slow_service(5.0))
    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    try:
        slow_gw = await serve_app(
            lambda port: gateway_app(
                gateway_settings(cluster, port, policy_engine_url=slow.url, upstream_timeout_s=0.3)
            )
        )
        gone_gw = await serve_app(
            lambda port: gateway_app(gateway_settings(cluster, port, policy_engine_url=gone))
        )
        body = {"agent_id": "a-1", "action": {"type": "model.invoke"}}
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            timed_out = await client.post(
                f"{slow_gw.url}/v1/authorize", params={"agency": "acme"}, json=body
            )
            refused = await client.post(
                f"{gone_gw.url}/v1/authorize", params={"agency": "acme"}, json=body
            )
        await slow_gw.stop()
        await gone_gw.stop()
    finally:
        await slow.stop()

    assert timed_out.status_code == 504, timed_out.text
    assert timed_out.headers["content-type"].startswith("application/problem+json")
    assert timed_out.json()["code"] == "upstream_timeout"
    assert timed_out.json()["service"] == "policy_engine"
    assert timed_out.json()["timeout_s"] == 0.3
    assert "Idempotency-Key" in timed_out.json()["remediation"]
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "upstream_unavailable"
    assert refused.headers["retry-after"] == "2"
