"""The audit chain on real PostgreSQL: what is recorded, who sees it, and that verify finds
an altered, a deleted and an inserted row; concurrent writes on two replicas keep it linear."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway.webhooks.signatures import github_signature

from .conftest import Cluster, Served
from .gateway_replicas import client, create_key, replicas, sql
from .test_policy_api import ACME, ORG, YAML

AUDIT = "/v1/audit"


async def _rows(served: Served, key: str | None = None, **params: str) -> list[dict[str, Any]]:
    async with client(served, **({"key": key} if key else {})) as caller:
        resp = await caller.get(AUDIT, params=params)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def _verify(served: Served) -> dict[str, Any]:
    async with client(served) as admin:
        resp = await admin.get(f"{AUDIT}/verify")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _three_rows(served: Served) -> None:
    for agency in ("acme", "acme", "globex"):
        await create_key(served, agency, "viewer")


async def test_gateway_owned_changes_are_chained_with_their_outcome(
    migrated_database_url: str, nats_url: str
) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        key_id, _ = await create_key(gw, "acme", "viewer")
        async with client(gw) as admin:
            assert (await admin.delete(f"/v1/keys/{key_id}")).status_code == 204
            assert (await admin.delete(f"/v1/keys/{key_id}")).status_code == 404
            assert (await admin.get("/v1/keys")).status_code == 200  # a read: not chained
        rows = await _rows(gw)
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("DELETE /v1/keys/{key_id}", 404),
        ("DELETE /v1/keys/{key_id}", 204),
        ("POST /v1/keys", 201),
    ]
    assert rows[1]["target"] == {"key_id": key_id}
    assert rows[2]["agency"] == "acme"
    assert (rows[2]["actor"], rows[2]["role"]) == ("0123456789ab", "admin")
    assert all(r["request_id"] for r in rows)
    assert [r["seq"] for r in rows] == [3, 2, 1]
    assert rows[0]["prev_hash"] == rows[1]["hash"]
    assert rows[2]["prev_hash"] == "00" * 32


async def test_a_known_callers_refusal_is_chained_an_anonymous_one_is_not(
    migrated_database_url: str, nats_url: str
) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        viewer_id, viewer = await create_key(gw, "acme", "viewer")
        async with client(gw, key=viewer) as caller:
            refused = await caller.post("/v1/keys", json={"agency": "acme", "role": "admin"})
        assert refused.status_code == 403
        async with client(gw, key=None) as anonymous:
            assert (await anonymous.post("/v1/keys", json={})).status_code == 401
        rows = await _rows(gw)
    assert [(r["actor"], r["role"], r["outcome"]) for r in rows] == [
        (viewer_id, "viewer", 403),
        ("0123456789ab", "admin", 201),
    ]


async def test_a_signed_webhook_delivery_is_chained_with_its_change(
    migrated_database_url: str, nats_url: str
) -> None:
    secret = "whsec-0123456789abcdef"
    push = {
        "ref": "refs/heads/main",
        "repository": {"name": "checkout", "full_name": "acme/checkout"},
        "commits": [{"id": "c" * 40, "timestamp": "2026-11-20T10:00:00Z", "author": {}}],
    }
    body = json.dumps(push).encode()
    headers = {
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(secret, body),
    }
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        async with client(gw) as admin:
            put = await admin.put(
                "/v1/webhooks/github/secret", json={"agency": "acme", "secret": secret}
            )
            assert put.status_code == 200
        async with client(gw, key=None) as github:
            delivered = await github.post(
                "/v1/webhooks/github?agency=acme", content=body, headers=headers
            )
            assert delivered.status_code == 202, delivered.text
        rows = await _rows(gw)
    assert [(r["action"], r["actor"], r["agency"], r["outcome"]) for r in rows] == [
        ("POST /v1/webhooks/github", None, "acme", 202),
        ("PUT /v1/webhooks/{provider}/secret", "0123456789ab", "acme", 200),
    ]


async def test_a_change_whose_commit_fails_is_chained_as_its_503(
    migrated_database_url: str, nats_url: str
) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        await sql(
            migrated_database_url,
            "CREATE FUNCTION public.fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure'; END $$",
        )
        await sql(
            migrated_database_url,
            "CREATE CONSTRAINT TRIGGER fail AFTER INSERT ON gateway.api_keys DEFERRABLE "
            "INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.fail()",
        )
        async with client(gw) as admin:
            resp = await admin.post("/v1/keys", json={"agency": "acme", "role": "viewer"})
        assert resp.status_code == 503
        rows = await _rows(gw)
        verdict = await _verify(gw)
    assert [(r["seq"], r["action"], r["outcome"]) for r in rows] == [(1, "POST /v1/keys", 503)]
    assert verdict["ok"]


async def test_a_relayed_write_is_chained_with_the_services_answer(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        assert (await admin.put("/v1/org/policy", content=ORG, headers=YAML)).status_code == 201
        put = await admin.put("/v1/agencies/acme/policy", content=ACME, headers=YAML)
        assert put.status_code == 201, put.text
        bad = await admin.put("/v1/agencies/acme/policy", content="{", headers=YAML)
        assert bad.status_code == 422
        resp = await admin.get(AUDIT, params={"agency": "acme"})
    rows = resp.json()["items"]
    assert [(r["action"], r["outcome"], r["target"]) for r in rows] == [
        ("PUT /v1/agencies/{agency}/policy", 422, {"agency": "acme"}),
        ("PUT /v1/agencies/{agency}/policy", 201, {"agency": "acme"}),
    ]


async def test_rows_are_scoped_to_the_callers_agency(
    migrated_database_url: str, nats_url: str
) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        await _three_rows(gw)
        _, acme_viewer = await create_key(gw, "acme", "viewer")
        _, acme_agent = await create_key(gw, "acme", "agent")
        _, acme_admin = await create_key(gw, "acme", "admin")
        own = await _rows(gw, key=acme_viewer)
        assert own
        assert {r["agency"] for r in own} == {"acme"}
        assert len(await _rows(gw, key=acme_viewer, agency="acme")) == len(own)
        assert {r["agency"] for r in await _rows(gw, agency="globex")} == {"globex"}
        assert len(await _rows(gw)) == 6  # org-wide: every agency
        async with client(gw, key=acme_viewer) as viewer:
            foreign = await viewer.get(AUDIT, params={"agency": "globex"})
        assert foreign.status_code == 403
        assert foreign.json()["code"] == "agency_forbidden"
        async with client(gw, key=acme_agent) as agent:
            assert (await agent.get(AUDIT)).json()["code"] == "role_forbidden"
        async with client(gw, key=acme_admin) as admin:
            verify = await admin.get(f"{AUDIT}/verify")
        assert verify.status_code == 403
        assert verify.json()["code"] == "org_admin_required"


async def test_filters_and_cursor_pages(migrated_database_url: str, nats_url: str) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        await _three_rows(gw)
        viewer_id, viewer = await create_key(gw, "acme", "viewer")
        async with client(gw, key=viewer) as caller:
            await caller.delete("/v1/keys/ffffffffffff")  # 403: a viewer
        assert [r["actor"] for r in await _rows(gw, actor=viewer_id)] == [viewer_id]
        assert len(await _rows(gw, outcome="4xx")) == 1
        assert len(await _rows(gw, outcome="201")) == 4
        assert len(await _rows(gw, action="POST /v1/keys")) == 4
        first = (await _rows(gw))[-1]
        assert [r["seq"] for r in await _rows(gw, to=first["at"])] == []
        assert len(await _rows(gw, **{"from": first["at"]})) == 5
        assert len(await _rows(gw, **{"from": "2000-01-01T00:00:00"})) == 5  # no zone: UTC
        async with client(gw) as admin:
            page = (await admin.get(AUDIT, params={"limit": 2})).json()
            seen = [r["seq"] for r in page["items"]]
            while page["next_cursor"]:
                params = {"limit": "2", "cursor": page["next_cursor"]}
                page = (await admin.get(AUDIT, params=params)).json()
                seen += [r["seq"] for r in page["items"]]
            bad = await admin.get(AUDIT, params={"cursor": "abc"})
            bad_outcome = await admin.get(AUDIT, params={"outcome": "2x"})
        assert seen == [5, 4, 3, 2, 1]
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_audit_cursor"
        assert bad_outcome.status_code == 422


async def test_verify_passes_an_untouched_chain(migrated_database_url: str, nats_url: str) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        assert await _verify(gw) == {
            "ok": True,
            "rows": 0,
            "first_broken": None,
            "head": {"seq": 0, "hash": "00" * 32},
        }
        await _three_rows(gw)
        verdict = await _verify(gw)
    assert verdict["ok"]
    assert verdict["rows"] == 3
    assert verdict["head"]["seq"] == 3


_COPY_ROW_2 = (
    "INSERT INTO gateway.audit_log (seq, at, actor, role, agency, action, target, outcome, "
    "request_id, prev_hash, hash) SELECT {seq}, at, actor, role, agency, action, target, "
    "outcome, request_id, prev_hash, hash FROM gateway.audit_log WHERE seq = 2"
)
TAMPERING = {
    "altered": (["UPDATE gateway.audit_log SET outcome = 200 WHERE seq = 2"], 2),
    "altered hash": (
        ["UPDATE gateway.audit_log SET hash = sha256(hash) WHERE seq = 2"],
        2,
    ),
    "deleted": (["DELETE FROM gateway.audit_log WHERE seq = 2"], 2),
    "deleted last": (["DELETE FROM gateway.audit_log WHERE seq = 3"], 3),
    "deleted and renumbered": (
        [
            "DELETE FROM gateway.audit_log WHERE seq = 2",
            "UPDATE gateway.audit_log SET seq = 2 WHERE seq = 3",
            "UPDATE gateway.audit_head SET seq = 2",
        ],
        2,
    ),
    "inserted after the head": ([_COPY_ROW_2.format(seq=4)], 4),
    "inserted mid-chain": (
        [
            "UPDATE gateway.audit_log SET seq = seq + 100 WHERE seq >= 2",
            "UPDATE gateway.audit_log SET seq = seq - 99 WHERE seq >= 100",
            _COPY_ROW_2.format(seq=2).replace("WHERE seq = 2", "WHERE seq = 3"),
            "UPDATE gateway.audit_head SET seq = 4",
        ],
        2,
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERING), ids=list(TAMPERING))
async def test_verify_names_the_first_broken_link(
    migrated_database_url: str, nats_url: str, tampering: str
) -> None:
    statements, seq = TAMPERING[tampering]
    reason = tampering.split()[0]
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        await _three_rows(gw)
        for statement in statements:
            await sql(migrated_database_url, statement)
        verdict = await _verify(gw)
    assert verdict["ok"] is False
    assert verdict["first_broken"] == {"seq": seq, "reason": reason}


async def test_concurrent_writes_on_two_replicas_keep_the_chain_linear(
    migrated_database_url: str, nats_url: str
) -> None:
    async with replicas(migrated_database_url, nats_url, count=2) as gateways:
        clients = [client(gw) for gw in gateways]
        try:
            answers = await asyncio.gather(
                *(
                    clients[i % 2].post("/v1/keys", json={"agency": "acme", "role": "viewer"})
                    for i in range(40)
                )
            )
        finally:
            for one in clients:
                await one.aclose()
        assert {a.status_code for a in answers} == {201}
        verdict = await _verify(gateways[1])
    assert verdict == {**verdict, "ok": True, "rows": 40, "first_broken": None}
    assert verdict["head"]["seq"] == 40
