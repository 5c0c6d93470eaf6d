"""Auth at the gateway: API keys, roles and agency isolation on real PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, TEST_SECRETS_KEY

from .conftest import Cluster
from .test_events_flow import CHANGE, wait_for


async def create_key(cluster: Cluster, agency: str, role: str) -> str:
    async with cluster.client() as admin:
        resp = await admin.post("/v1/keys", json={"agency": agency, "role": role, "name": "t"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["key"].startswith(f"cvc_{body['id']}_")
    return str(body["key"])


async def test_no_key_is_401_with_remediation(cluster: Cluster) -> None:
    async with cluster.client(key=None) as anon:
        resp = await anon.get("/v1/events", params={"agency": "acme"})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json()["code"] == "missing_api_key"
    assert "cortex keys create" in resp.json()["remediation"]


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "cvc_0123456789ab_" + "B" * 43,  # known id, wrong secret
        "cvc_ffffffffffff_" + "A" * 43,  # unknown id
    ],
)
async def test_wrong_key_is_401(cluster: Cluster, token: str) -> None:
    async with cluster.client(key=token) as client:
        resp = await client.get("/v1/events", params={"agency": "acme"})
    assert resp.status_code == 401
    assert resp.json()["code"] == "invalid_api_key"


async def test_role_without_permission_is_403(cluster: Cluster) -> None:
    viewer = await create_key(cluster, "acme", "viewer")
    async with cluster.client(key=viewer) as client:
        resp = await client.post("/v1/events", json={"events": [CHANGE]})
        assert resp.status_code == 403
        problem = resp.json()
        assert problem["code"] == "role_forbidden"
        assert "deployer" in problem["required_roles"]
        # the viewer may still read its own agency
        assert (await client.get("/v1/events")).status_code == 200
        # and may not manage keys
        assert (await client.get("/v1/keys")).status_code == 403


async def test_agency_key_cannot_touch_another_agency(cluster: Cluster) -> None:
    acme = await create_key(cluster, "acme", "deployer")
    globex = await create_key(cluster, "globex", "deployer")
    async with cluster.client(key=acme) as client:
        resp = await client.post("/v1/events", json={"events": [CHANGE]})
        assert resp.status_code == 202
        assert resp.json()["agency"] == "acme"
        await wait_for(client, "/v1/events/change/c-1")
        denied = await client.post("/v1/events", json={"agency": "globex", "events": [CHANGE]})
        assert denied.status_code == 403
        assert denied.json()["code"] == "agency_forbidden"
        assert (await client.get("/v1/events", params={"agency": "globex"})).status_code == 403
    async with cluster.client(key=globex) as client:
        # globex cannot see acme's event: its own agency has no such event
        resp = await client.get("/v1/events/change/c-1")
        assert resp.status_code == 404
        assert (await client.get("/v1/events")).json()["items"] == []


async def test_org_wide_key_must_name_a_valid_agency(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        missing = await admin.post("/v1/events", json={"events": [CHANGE]})
        assert missing.status_code == 400
        assert missing.json()["code"] == "agency_required"
        bad = await admin.post("/v1/events", json={"agency": "Not.Valid", "events": [CHANGE]})
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_agency"


async def test_revoked_key_stops_working(cluster: Cluster) -> None:
    key = await create_key(cluster, "acme", "viewer")
    key_id = key.split("_")[1]
    async with cluster.client(key=key) as client:
        assert (await client.get("/v1/events")).status_code == 200
        async with cluster.client() as admin:
            assert (await admin.delete(f"/v1/keys/{key_id}")).status_code == 204
            assert (await admin.delete(f"/v1/keys/{key_id}")).status_code == 404
        assert (await client.get("/v1/events")).status_code == 401


async def test_keys_are_stored_hashed_and_listed_without_secrets(cluster: Cluster) -> None:
    key = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        listed = (await admin.get("/v1/keys")).json()["items"]
    assert {k["role"] for k in listed} == {"admin", "agent"}
    assert key not in str(listed)
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(cluster.database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, secret_hash FROM gateway.api_keys"))).all()
    await engine.dispose()
    secret = key.split("_", 2)[2]
    assert all(secret.encode() not in bytes(r.secret_hash) for r in rows)
    assert all(len(bytes(r.secret_hash)) == 32 for r in rows)


async def test_bootstrap_admin_key_is_created_only_once(cluster: Cluster) -> None:
    """A second gateway starting with another bootstrap key does not add an admin."""
    from gateway.app import create_app
    from gateway.settings import Settings

    from .conftest import serve_app

    other = "cvc_aaaaaaaaaaaa_" + "C" * 43
    served = await serve_app(
        lambda port: create_app(
            Settings(
                port=port,
                database_url=cluster.database_url,
                nats_url=cluster.nats_url,
                bootstrap_admin_key=other,
                internal_secret=TEST_INTERNAL_SECRET,
                secrets_key=TEST_SECRETS_KEY,
                log_json=False,
                log_level="WARNING",
            )
        )
    )
    try:
        async with httpx.AsyncClient(base_url=served.url) as client:
            resp = await client.get("/v1/keys", headers={"Authorization": f"Bearer {other}"})
            assert resp.status_code == 401
            resp = await client.get(
                "/v1/keys", headers={"Authorization": f"Bearer {cluster.admin_key}"}
            )
            assert resp.status_code == 200
    finally:
        await served.stop()
    await asyncio.sleep(0)


async def test_a_key_limited_to_routes_calls_those_and_no_other(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        made = await admin.post(
            "/v1/keys",
            json={
                "agency": "acme",
                "role": "agent",
                "name": "authorize only",
                "routes": ["POST /v1/authorize", "GET /v1/decisions/*"],
            },
        )
        listed = await admin.get("/v1/keys")
    assert made.status_code == 201, made.text
    assert made.json()["routes"] == ["POST /v1/authorize", "GET /v1/decisions/*"]
    assert [k["routes"] for k in listed.json()["items"] if k["id"] == made.json()["id"]] == [
        ["POST /v1/authorize", "GET /v1/decisions/*"]
    ]
    async with cluster.client(key=made.json()["key"]) as agent:
        authorize = await agent.post("/v1/authorize", json={"agent_id": "a-1", "action": {}})
        one = await agent.get("/v1/decisions/d-unknown")
        events = await agent.get("/v1/events")
        decisions = await agent.get("/v1/decisions")  # below the path, not the path itself

    assert authorize.status_code not in (401, 403), authorize.text
    assert one.status_code == 404, one.text
    for refused in (events, decisions):
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "route_not_in_key_scope"
        assert refused.json()["key_routes"] == ["POST /v1/authorize", "GET /v1/decisions/*"]
        assert "--route" in refused.json()["remediation"]


@pytest.mark.parametrize(
    ("routes", "code"),
    [
        (["POST /v1/authorise"], "unknown_route_scope"),  # a typo: no such route
        (["GET /v1/keys/*/x"], "invalid_request"),
        ([], "invalid_request"),
    ],
)
async def test_route_scopes_that_name_no_route_are_refused(
    cluster: Cluster, routes: list[str], code: str
) -> None:
    async with cluster.client() as admin:
        resp = await admin.post(
            "/v1/keys", json={"agency": "acme", "role": "agent", "routes": routes}
        )
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == code
