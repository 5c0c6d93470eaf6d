"""The first-run wizard: six validated steps → a valid, published policy."""

from __future__ import annotations

from .conftest import Cluster
from .test_policy_api import ORG, YAML

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
        error = bad_glob.json()["errors"][0]
        assert (error["step"], error["loc"], error["pointer"]) == (
            "models",
            ["allow", 0],
            "/allow/0",
        )
        assert error["code"] == "invalid_glob"
        assert "line" not in error
        unknown = await client.put("/v1/agencies/acme/wizard/nope", json={})
        assert unknown.status_code == 404
        state = (await client.get("/v1/agencies/acme/wizard")).json()
        assert not any(s["completed"] for s in state["steps"])


async def test_a_step_that_loosens_the_org_policy_is_refused_at_its_own_field(
    cluster: Cluster,
) -> None:
    async with cluster.client() as client:
        assert (await client.put("/v1/org/policy", content=ORG, headers=YAML)).status_code == 201
        looser = {"allow": ["gpt-4o*", "claude-3-5-*", "mistral-*"], "deny": []}
        models = await client.put("/v1/agencies/acme/wizard/models", json=looser)
        assert models.status_code == 422, models.text
        problem = models.json()
        assert problem["code"] == "wizard_step_loosens_parent"
        assert problem["remediation"]
        [error] = problem["errors"]
        assert (error["step"], error["loc"], error["pointer"]) == (
            "models",
            ["allow", 2],
            "/allow/2",
        )
        assert error["code"] == "model_not_allowed_by_parent"
        assert "mistral-*" in error["message"]
        assert error["remediation"].startswith("narrow it to models matching")

        data = {"max_class": "internal", "pii": {"EMAIL": "mask", "CREDIT_CARD": "mask"}}
        refused = (await client.put("/v1/agencies/acme/wizard/data", json=data)).json()
        assert [(e["loc"], e["code"]) for e in refused["errors"]] == [
            (["pii", "CREDIT_CARD"], "loosens_parent")
        ]
        ceiling = await client.put("/v1/agencies/acme/wizard/autonomy", json={"ceiling": "L4"})
        assert ceiling.json()["errors"][0]["loc"] == ["ceiling"]

        state = (await client.get("/v1/agencies/acme/wizard")).json()
        assert not any(s["completed"] for s in state["steps"])
        tighter = await client.put("/v1/agencies/acme/wizard/models", json=ANSWERS["models"])
        assert tighter.status_code == 200, tighter.text


async def test_publishing_unchanged_answers_again_keeps_the_version(cluster: Cluster) -> None:
    async with cluster.client() as client:
        for step, answers in ANSWERS.items():
            resp = await client.put(f"/v1/agencies/acme/wizard/{step}", json=answers)
            assert resp.status_code == 200, resp.text
        first = await client.post("/v1/agencies/acme/wizard/publish")
        assert first.status_code == 201, first.text
        again = await client.post("/v1/agencies/acme/wizard/publish")
        assert again.status_code == 200, again.text
        assert (again.json()["version"], again.json()["created"]) == (1, False)
        versions = (await client.get("/v1/agencies/acme/policy/versions")).json()["items"]
        assert [v["version"] for v in versions] == [1]


async def test_a_hostile_step_body_is_a_problem_not_a_crash(cluster: Cluster) -> None:
    json_headers = {"Content-Type": "application/json"}
    async with cluster.client() as client:
        deep = await client.put(
            "/v1/agencies/acme/wizard/models",
            content='{"allow": ' + "[" * 50_000 + "]" * 50_000 + "}",
            headers=json_headers,
        )
        assert deep.status_code == 422, deep.text
        assert deep.json()["code"] == "policy_too_deep"
        big = await client.put(
            "/v1/agencies/acme/wizard/profile",
            content='{"name": "' + "x" * 200_000 + '"}',
            headers=json_headers,
        )
        assert big.status_code == 413


async def test_publish_names_the_step_a_since_tightened_parent_refuses(cluster: Cluster) -> None:
    async with cluster.client() as client:
        for step, answers in {**ANSWERS, "autonomy": {"ceiling": "L4"}}.items():
            resp = await client.put(f"/v1/agencies/acme/wizard/{step}", json=answers)
            assert resp.status_code == 200, resp.text
        assert (await client.put("/v1/org/policy", content=ORG, headers=YAML)).status_code == 201
        refused = await client.post("/v1/agencies/acme/wizard/publish")
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "wizard_step_loosens_parent"
        assert [(e["step"], e["loc"]) for e in refused.json()["errors"]] == [
            ("autonomy", ["ceiling"])
        ]
