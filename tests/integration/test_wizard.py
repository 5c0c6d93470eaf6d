"""The first-run wizard: six validated steps → a valid, published policy."""

from __future__ import annotations

from .conftest import Cluster

ANSWERS = {
    "profile": {"name": "acme-first", "description": "Set up by the wizard"},
    "models": {"allow": ["gpt-4o*", "claude-3-5-*"], "deny": ["*-preview"]},
    "autonomy": {"ceiling": "L2", "actions": {"payments.*": "L1"}},
    "data": {"max_class": "internal", "pii": {"EMAIL": "mask", "CREDIT_CARD": "deny"}},
    "budgets": {"agency": {"daily_usd": 100}, "agent": {"daily_usd": 10}},
    "approvals": {
        "require_approval_for": ["payments.refund"],
        "approver_roles": ["finance-lead"],
        "max_agents_per_batch": 25,
    },
}


async def test_six_steps_publish_a_working_policy(cluster: Cluster) -> None:
    async with cluster.client() as client:
        state = (await client.get("/v1/agencies/acme/wizard")).json()
        assert state["next_step"] == "profile"
        assert [s["name"] for s in state["steps"]] == list(ANSWERS)

        early = await client.post("/v1/agencies/acme/wizard/publish")
        assert early.status_code == 409
        assert early.json()["missing_steps"] == list(ANSWERS)

        for step, answers in ANSWERS.items():
            resp = await client.put(f"/v1/agencies/acme/wizard/{step}", json=answers)
            assert resp.status_code == 200, resp.text
        state = resp.json()
        assert state["complete"] is True
        assert state["preview"]["spec"]["autonomy"]["ceiling"] == "L2"

        published = await client.post("/v1/agencies/acme/wizard/publish")
        assert published.status_code == 201, published.text
        assert published.json()["version"] == 1

        decision = await client.post(
            "/v1/authorize",
            params={"agency": "acme"},
            json={
                "agent_id": "a",
                "action": {"type": "payments.refund", "model": "gpt-4o", "autonomy_level": 1},
            },
        )
        body = decision.json()
        assert body["decision"] == "require_approval", body
        assert body["approval"]["roles"] == ["finance-lead"]


async def test_an_invalid_step_is_refused_and_not_saved(cluster: Cluster) -> None:
    async with cluster.client() as client:
        bad_level = await client.put("/v1/agencies/acme/wizard/autonomy", json={"ceiling": "L7"})
        assert bad_level.status_code == 422
        assert bad_level.json()["code"] == "wizard_step_invalid"
        bad_glob = await client.put(
            "/v1/agencies/acme/wizard/models", json={"allow": ["gpt-[4"], "deny": []}
        )
        assert bad_glob.status_code == 422
        assert bad_glob.json()["issues"][0]["path"].startswith("spec.models")
        unknown = await client.put("/v1/agencies/acme/wizard/nope", json={})
        assert unknown.status_code == 404
        state = (await client.get("/v1/agencies/acme/wizard")).json()
        assert not any(s["completed"] for s in state["steps"])
