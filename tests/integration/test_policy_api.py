"""The policy engine through the gateway, on real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from cortex_kit.testing.internal import signed

from .conftest import Cluster
from .test_auth import create_key

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "policies"
YAML = {"Content-Type": "application/yaml"}
JSON = {"Content-Type": "application/json"}
ORG = (EXAMPLES / "org-baseline.yaml").read_text()
ACME = (EXAMPLES / "agency-acme.yaml").read_text()


async def publish_baseline(client: httpx.AsyncClient) -> None:
    org = await client.put("/v1/org/policy", content=ORG, headers=YAML)
    assert org.status_code == 201, org.text
    acme = await client.put("/v1/agencies/acme/policy", content=ACME, headers=YAML)
    assert acme.status_code == 201, acme.text


def action(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "type": "email.send",
        "model": "gpt-4o-mini",
        "autonomy_level": "L1",
        "data_class": "internal",
        "estimated_cost_usd": 0.5,
        "estimated_tokens": 1000,
    }
    return {**base, **overrides}


async def test_publish_versions_diff_rollback(cluster: Cluster) -> None:
    async with cluster.client() as client:
        await publish_baseline(client)
        same = await client.put("/v1/agencies/acme/policy", content=ACME, headers=YAML)
        assert same.status_code == 200
        assert same.json()["version"] == 1
        assert same.json()["created"] is False

        tighter = ACME.replace("ceiling: L2", "ceiling: L1")
        v2 = await client.put(
            "/v1/agencies/acme/policy", content=tighter, headers=YAML, params={"message": "L1"}
        )
        assert v2.status_code == 201
        assert v2.json()["version"] == 2
        assert v2.json()["message"] == "L1"

        history = (await client.get("/v1/agencies/acme/policy/versions")).json()
        assert [v["version"] for v in history["items"]] == [2, 1]

        diff = (await client.get("/v1/agencies/acme/policy/diff", params={"from": 1})).json()
        assert diff["to"] == 2
        assert any(c["path"] == "spec.autonomy.ceiling" for c in diff["changes"])

        rolled = await client.post(
            "/v1/agencies/acme/policy/rollback", json={"to_version": 1, "reason": "too strict"}
        )
        assert rolled.status_code == 201, rolled.text
        assert rolled.json()["version"] == 3
        assert rolled.json()["rollback_of"] == 1
        latest = (await client.get("/v1/agencies/acme/policy")).json()
        assert latest["content_hash"] == history["items"][1]["content_hash"]

        effective = (await client.get("/v1/agencies/acme/policy/effective")).json()
        assert effective["version"] == "org:1+agency:3"
        assert effective["layers"][0]["layer"] == "org"


async def test_invalid_policy_is_refused_with_line_and_column(cluster: Cluster) -> None:
    bad = ACME.replace("ceiling: L2", "ceiling: L9").replace(
        'condition: "request.amount_usd > 500.0"', 'condition: "request.amount_usd >"'
    )
    async with cluster.client() as client:
        checked = (await client.post("/v1/policies/validate", content=bad, headers=YAML)).json()
        assert checked["valid"] is False
        lines = {i["line"] for i in checked["issues"]}
        assert {13, 21} <= lines, checked["issues"]
        assert all(i["remediation"] for i in checked["issues"])

        refused = await client.put("/v1/agencies/acme/policy", content=bad, headers=YAML)
        assert refused.status_code == 422
        assert refused.json()["code"] == "policy_invalid"
        missing = await client.get("/v1/agencies/acme/policy")
        assert missing.status_code == 404
        assert missing.json()["code"] == "policy_not_found"


async def test_overlay_that_loosens_the_parent_is_refused(cluster: Cluster) -> None:
    async with cluster.client() as client:
        await publish_baseline(client)
        looser = ACME.replace("ceiling: L2", "ceiling: L4")
        refused = await client.put("/v1/agencies/acme/policy", content=looser, headers=YAML)
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["code"] == "policy_loosens_parent"
    assert any("autonomy" in i["path"] for i in problem["issues"])


async def test_authorize_lists_every_violation_with_remediation(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    async with cluster.client(key=agent) as client:
        ok = await client.post("/v1/authorize", json={"agent_id": "a1", "action": action()})
        assert ok.status_code == 200, ok.text
        assert ok.json()["decision"] == "allow"
        assert ok.json()["policy_version"] == "org:1+agency:1"

        bad = action(model="gpt-5-preview", autonomy_level="L3")
        denied = (await client.post("/v1/authorize", json={"agent_id": "a1", "action": bad})).json()
        assert denied["decision"] == "deny"
        codes = {r["code"] for r in denied["reasons"]}
        assert {"model_not_allowed", "autonomy_above_ceiling"} <= codes
        for reason in denied["reasons"]:
            assert reason["remediation"]
            assert reason["docs_url"]
        assert 0 <= denied["risk_score"] <= 1

        refund = action(type="payments.refund", autonomy_level="L1")
        approval = (
            await client.post(
                "/v1/authorize",
                json={"agent_id": "a1", "action": refund, "context": {"amount_usd": 900.0}},
            )
        ).json()
        assert approval["decision"] == "require_approval"
        assert approval["approval"]["roles"] == ["finance-lead"]

        await asyncio.sleep(0.3)
        logged = (await client.get("/v1/decisions", params={"agent_id": "a1"})).json()["items"]
        assert {d["decision"] for d in logged} == {"allow", "deny", "require_approval"}


async def test_pii_is_masked_and_never_stored_raw(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    payload = {"to": "jane.doe@example.org", "body": "call me at +1 415 555 0132"}
    async with cluster.client(key=agent) as client:
        resp = (
            await client.post(
                "/v1/authorize", json={"agent_id": "a1", "action": action(), "payload": payload}
            )
        ).json()
        assert resp["decision"] == "allow"
        assert "EMAIL" in resp["masked_entities"]
        assert "jane.doe@example.org" not in str(resp["masked_payload"])
        await asyncio.sleep(0.3)
        stored = (await client.get(f"/v1/decisions/{resp['decision_id']}")).json()
        assert "jane.doe@example.org" not in str(stored)
        assert "415 555 0132" not in str(stored)

        card = {"note": "card 4111 1111 1111 1111"}
        denied = (
            await client.post(
                "/v1/authorize", json={"agent_id": "a1", "action": action(), "payload": card}
            )
        ).json()
        assert denied["decision"] == "deny"
        assert "pii_denied" in {r["code"] for r in denied["reasons"]}


async def test_budget_hard_limit_holds_under_concurrency(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    # the agent's daily budget is 25 USD: 40 concurrent 1-USD requests, at most 25 allowed
    async with cluster.client(key=agent) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/v1/authorize",
                    json={"agent_id": "spender", "action": action(estimated_cost_usd=1.0)},
                )
                for _ in range(40)
            )
        )
    decisions = [r.json()["decision"] for r in responses]
    assert decisions.count("allow") == 25
    assert decisions.count("deny") == 15
    over = next(r.json() for r in responses if r.json()["decision"] == "deny")
    exceeded = next(r for r in over["reasons"] if r["code"] == "budget_exceeded")
    assert exceeded["limit"] == 25
    # agency-wide use is exported per agency (never per agent)
    async with httpx.AsyncClient() as plain:
        metrics = (await plain.get(f"{cluster.processes['policy_engine'].url}/metrics")).text
    assert 'cortex_policy_budget_limit{agency="acme",period="daily",unit="usd"} 500.0' in metrics
    used = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('cortex_policy_budget_used{agency="acme",period="daily",unit="usd"}')
    ]
    assert used
    assert used[0] >= 25.0
    assert "spender" not in metrics


async def test_usage_settlement_frees_unused_budget(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    async with cluster.client(key=agent) as client:
        first = (
            await client.post(
                "/v1/authorize",
                json={"agent_id": "s", "action": action(estimated_cost_usd=20.0)},
            )
        ).json()
        assert first["decision"] == "allow"
        blocked = (
            await client.post(
                "/v1/authorize", json={"agent_id": "s", "action": action(estimated_cost_usd=10.0)}
            )
        ).json()
        assert blocked["decision"] == "deny"
        settled = await client.post(
            f"/v1/decisions/{first['decision_id']}/usage", json={"cost_usd": 2.0, "tokens": 10}
        )
        assert settled.status_code == 200, settled.text
        again = await client.post(
            f"/v1/decisions/{first['decision_id']}/usage", json={"cost_usd": 2.0, "tokens": 10}
        )
        assert again.status_code == 404
        after = (
            await client.post(
                "/v1/authorize", json={"agent_id": "s", "action": action(estimated_cost_usd=10.0)}
            )
        ).json()
        assert after["decision"] == "allow"


async def test_authorize_refuses_bad_input_with_a_problem(cluster: Cluster) -> None:
    refused = [
        ({"content": b'{"agent_id": ', "headers": JSON}, "json_invalid"),
        ({"json": {"agent_id": "a1", "action": action(autonomy_level="L9")}}, "value_error"),
        ({"json": {"agent_id": "a1", "action": action(), "extra": 1}}, "extra_forbidden"),
        ({"content": b"agent_id: a1", "headers": YAML}, "content_type"),
        ({"content": b"", "headers": JSON}, "missing"),
    ]
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    async with cluster.client(key=agent) as client:
        for request, error in refused:
            resp = await client.post("/v1/authorize", **request)  # type: ignore[arg-type]
            assert resp.status_code == 422, resp.text
            assert resp.headers["content-type"] == "application/problem+json"
            problem = resp.json()
            assert problem["code"] == "invalid_request"
            assert problem["remediation"]
            assert [e["type"] for e in problem["errors"]] == [error]


async def test_the_engine_refuses_authorize_without_the_caller_agency(cluster: Cluster) -> None:
    engine = cluster.processes["policy_engine"].url
    async with httpx.AsyncClient(base_url=engine, auth=signed()) as client:
        resp = await client.post("/v1/authorize", json={"agent_id": "a", "action": action()})
    assert resp.status_code == 400
    assert resp.json()["code"] == "agency_required"


async def test_authorize_answers_the_documented_shape(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    async with cluster.client(key=agent) as client:
        resp = await client.post("/v1/authorize", json={"agent_id": "a1", "action": action()})
    async with httpx.AsyncClient(
        base_url=cluster.processes["policy_engine"].url, auth=signed()
    ) as engine:
        schema = (await engine.get("/openapi.json")).json()
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert list(resp.json()) == [
        "decision_id",
        "decision",
        "risk_score",
        "reasons",
        "approval",
        "masked_payload",
        "masked_entities",
        "budget_alerts",
        "risk_factors",
        "policy_version",
        "evaluated_us",
    ]
    assert resp.json()["decision"] == "allow"
    documented = schema["paths"]["/v1/authorize"]["post"]
    body = documented["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"agent_id", "action"}
    assert "AuthorizeResponse" in json.dumps(documented["responses"]["200"])


async def test_agent_without_policy_is_denied_fail_closed(cluster: Cluster) -> None:
    agent = await create_key(cluster, "nopolicy", "agent")
    async with cluster.client(key=agent) as client:
        resp = (
            await client.post("/v1/authorize", json={"agent_id": "a", "action": action()})
        ).json()
    assert resp["decision"] == "deny"
    assert resp["reasons"][0]["code"] == "no_policy"


async def test_simulate_reports_decisions_a_candidate_would_change(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
        async with cluster.client(key=agent) as client:
            for level in ("L1", "L2"):
                resp = await client.post(
                    "/v1/authorize",
                    json={"agent_id": "a1", "action": action(autonomy_level=level)},
                )
                assert resp.json()["decision"] == "allow"
        await asyncio.sleep(0.3)
        candidate = ACME.replace("ceiling: L2", "ceiling: L1")
        sim = await admin.post(
            "/v1/agencies/acme/policy/simulate", json={"policy": candidate, "last": 10}
        )
        assert sim.status_code == 200, sim.text
        report = sim.json()
        assert report["evaluated"] == 2
        assert report["changed"] == 1
        change = report["changes"][0]
        assert (change["before"], change["after"]) == ("allow", "deny")
        assert change["new_reasons"][0]["code"] == "autonomy_above_ceiling"
        # nothing was published
        latest = (await admin.get("/v1/agencies/acme/policy")).json()
        assert latest["version"] == 1


async def test_roles_and_agencies_are_enforced_on_policy_routes(cluster: Cluster) -> None:
    viewer = await create_key(cluster, "acme", "viewer")
    other = await create_key(cluster, "globex", "policy-admin")
    async with cluster.client(key=viewer) as client:
        put = await client.put("/v1/agencies/acme/policy", content=ACME, headers=YAML)
        assert put.status_code == 403
        assert (
            await client.post("/v1/authorize", json={"agent_id": "a", "action": action()})
        ).status_code == 403
    async with cluster.client(key=other) as client:
        put = await client.put("/v1/agencies/acme/policy", content=ACME, headers=YAML)
        assert put.status_code == 403
        assert put.json()["code"] == "agency_forbidden"
        org = await client.put("/v1/org/policy", content=ORG, headers=YAML)
        assert org.status_code == 403


async def test_oversize_payload_is_handled_by_the_policy_never_passed(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    huge = {"blob": "x" * 300_000}  # the org baseline caps payloads at 256 KiB, on_oversize: deny
    async with cluster.client(key=agent) as client:
        resp = await client.post(
            "/v1/authorize", json={"agent_id": "a1", "action": action(), "payload": huge}
        )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["decision"] == "deny"
    assert "payload_too_large" in {r["code"] for r in body["reasons"]}
    assert body["masked_payload"] is None
