"""Approvals through the real gateway and approval workflow: roles, agency isolation, the
caller's approval roles and team, long-poll beyond the upstream timeout, bulk decisions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cortex_kit.errors import PROBLEM_JSON

from .conftest import Cluster, gateway_settings, serve_app

HASH = "sha256:" + "ab" * 32


async def create_key(
    cluster: Cluster,
    agency: str,
    role: str,
    *,
    approval_roles: list[str] | None = None,
    team: str | None = None,
) -> str:
    body: dict[str, Any] = {"agency": agency, "role": role, "name": "t"}
    if approval_roles is not None:
        body["approval_roles"] = approval_roles
    if team is not None:
        body["team"] = team
    async with cluster.client() as admin:
        resp = await admin.post("/v1/keys", json=body)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["key"])


def key_id(key: str) -> str:
    return key.split("_")[1]


def request_body(subject_id: str = "dep-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": {"kind": "deployment", "id": subject_id, "input_hash": HASH},
        "summary": "prompt change to 1000 agents",
        "rule_ids": ["deploy.high-risk"],
    }
    return {**body, **overrides}


async def ask(cluster: Cluster, key: str, **overrides: Any) -> dict[str, Any]:
    async with cluster.client(key) as client:
        resp = await client.post("/v1/approvals", json=request_body(**overrides))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def assert_problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_JSON)
    problem = dict(resp.json())
    assert problem["code"] == code
    assert problem["remediation"]
    return problem


async def test_an_approver_decides_and_the_trail_names_its_key_and_roles(
    cluster: Cluster,
) -> None:
    deployer = await create_key(cluster, "acme", "deployer")
    approver = await create_key(cluster, "acme", "approver")
    asked = await ask(cluster, deployer)
    assert asked["requested_by"] == key_id(deployer)
    async with cluster.client(approver) as client:
        resp = await client.post(
            f"/v1/approvals/{asked['id']}/decisions",
            json={"decision": "approve", "comment": "looks fine"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["approval"]["status"] == "granted"
        again = await client.post(
            f"/v1/approvals/{asked['id']}/decisions",
            json={"decision": "approve", "comment": "looks fine"},
        )
        read = (await client.get(f"/v1/approvals/{asked['id']}")).json()
    assert (again.status_code, again.json()["repeated"]) == (200, True)
    [entry] = read["trail"]
    assert (entry["approver"], entry["roles"], entry["comment"]) == (
        key_id(approver),
        ["approver"],
        "looks fine",
    )


async def test_a_viewer_reads_but_cannot_decide(cluster: Cluster) -> None:
    asked = await ask(cluster, await create_key(cluster, "acme", "agent"))
    viewer = await create_key(cluster, "acme", "viewer")
    async with cluster.client(viewer) as client:
        assert (await client.get(f"/v1/approvals/{asked['id']}")).json()["id"] == asked["id"]
        listed = (await client.get("/v1/approvals")).json()
        assert [a["id"] for a in listed["items"]] == [asked["id"]]
        refused = await client.post(
            f"/v1/approvals/{asked['id']}/decisions", json={"decision": "approve"}
        )
        problem = assert_problem(refused, 403, "role_forbidden")
        assert problem["required_roles"] == ["admin", "approver"]
        bulk = await client.post(
            "/v1/approvals/decisions",
            json={"items": [{"approval_id": asked["id"], "decision": "approve"}]},
        )
        assert_problem(bulk, 403, "role_forbidden")
        assert_problem(
            await client.post("/v1/approvals", json=request_body()), 403, "role_forbidden"
        )
        # a key that may not decide has nothing to decide
        mine = (await client.get("/v1/approvals", params={"mine": "decidable"})).json()
        assert mine == {"items": [], "next_cursor": None}
        assert (await client.get(f"/v1/approvals/{asked['id']}")).json()["status"] == "pending"


async def test_a_requester_reads_its_own_request(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    asked = await ask(
        cluster, agent, subject={"kind": "action", "id": "refund-1", "input_hash": HASH}
    )
    async with cluster.client(agent) as client:
        read = await client.get(f"/v1/approvals/{asked['id']}")
        listed = await client.get("/v1/approvals", params={"subject_kind": "action"})
    assert read.status_code == 200
    assert read.json()["requested_by"] == key_id(agent)
    assert [a["id"] for a in listed.json()["items"]] == [asked["id"]]


async def test_another_agency_never_reads_nor_decides(cluster: Cluster) -> None:
    asked = await ask(cluster, await create_key(cluster, "acme", "deployer"))
    globex = await create_key(cluster, "globex", "approver")
    path = f"/v1/approvals/{asked['id']}"
    async with cluster.client(globex) as client:
        assert_problem(await client.get(path), 404, "approval_not_found")
        assert_problem(await client.get(path, params={"agency": "acme"}), 403, "agency_forbidden")
        decided = await client.post(f"{path}/decisions", json={"decision": "approve"})
        assert_problem(decided, 404, "approval_not_found")
        foreign = await client.post(
            f"{path}/decisions", params={"agency": "acme"}, json={"decision": "approve"}
        )
        assert_problem(foreign, 403, "agency_forbidden")
        bulk = await client.post(
            "/v1/approvals/decisions",
            json={"items": [{"approval_id": asked["id"], "decision": "reject"}]},
        )
        assert [i["status"] for i in bulk.json()["items"]] == [404]
        assert (await client.get("/v1/approvals")).json()["items"] == []
    async with cluster.client() as admin:  # org-wide: must name the agency
        assert_problem(await admin.get(path), 400, "agency_required")
        read = await admin.get(path, params={"agency": "acme"})
    assert (read.status_code, read.json()["status"], read.json()["trail"]) == (200, "pending", [])


async def test_a_required_approval_role_needs_a_key_that_holds_it(cluster: Cluster) -> None:
    asked = await ask(
        cluster, await create_key(cluster, "acme", "deployer"), required_roles=["data-owner"]
    )
    plain = await create_key(cluster, "acme", "approver")
    owner = await create_key(cluster, "acme", "approver", approval_roles=["data-owner"])
    path = f"/v1/approvals/{asked['id']}"
    async with cluster.client(plain) as client:
        assert (await client.get("/v1/approvals", params={"mine": "decidable"})).json()[
            "items"
        ] == []
        refused = await client.post(f"{path}/decisions", json={"decision": "approve"})
        assert_problem(refused, 403, "approver_role_missing")
    async with cluster.client(owner) as client:
        decidable = (await client.get("/v1/approvals", params={"mine": "decidable"})).json()
        assert [a["id"] for a in decidable["items"]] == [asked["id"]]
        granted = await client.post(f"{path}/decisions", json={"decision": "approve"})
    assert granted.status_code == 200, granted.text
    assert granted.json()["approval"]["status"] == "granted"
    assert granted.json()["decision"]["roles"] == ["approver", "data-owner"]


async def test_the_keys_team_is_the_separation_of_duties(cluster: Cluster) -> None:
    requester = await create_key(cluster, "acme", "deployer", team="payments")
    asked = await ask(cluster, requester, separation="team")
    assert asked["requester_team"] == "payments"
    teammate = await create_key(cluster, "acme", "approver", team="payments")
    other = await create_key(cluster, "acme", "approver", team="platform")
    path = f"/v1/approvals/{asked['id']}/decisions"
    async with cluster.client(teammate) as client:
        refused = await client.post(path, json={"decision": "approve"})
        assert_problem(refused, 403, "same_team_forbidden")
    async with cluster.client(other) as client:
        resp = await client.post(path, json={"decision": "approve"})
    assert (resp.status_code, resp.json()["decision"]["team"]) == (200, "platform")


async def test_keys_carry_their_approval_roles_and_team(cluster: Cluster) -> None:
    owner = await create_key(
        cluster, "acme", "approver", approval_roles=["data-owner", "security"], team="payments"
    )
    async with cluster.client() as admin:
        listed = {k["id"]: k for k in (await admin.get("/v1/keys")).json()["items"]}
        assert listed[key_id(owner)]["approval_roles"] == ["data-owner", "security"]
        assert listed[key_id(owner)]["team"] == "payments"
        viewer = await admin.post(
            "/v1/keys",
            json={"agency": "acme", "role": "viewer", "approval_roles": ["data-owner"]},
        )
        assert_problem(viewer, 422, "approval_roles_need_approver")
        for bad in ({"approval_roles": ["Data Owner"]}, {"team": "pay,ments"}):
            resp = await admin.post("/v1/keys", json={"agency": "acme", "role": "approver", **bad})
            assert_problem(resp, 422, "invalid_request")


async def test_a_retry_with_the_same_idempotency_key_is_the_same_request(
    cluster: Cluster,
) -> None:
    deployer = await create_key(cluster, "acme", "deployer")
    headers = {"Idempotency-Key": "ci-run-42"}
    async with cluster.client(deployer) as client:
        first = await client.post("/v1/approvals", json=request_body(), headers=headers)
        second = await client.post("/v1/approvals", json=request_body(), headers=headers)
    # the gateway replays the first answer (docs/api.md "Idempotency"); the workflow's own
    # key (200 on a repeat) covers calls that reach it another way
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]


async def test_bulk_decisions_are_each_answered(cluster: Cluster) -> None:
    deployer = await create_key(cluster, "acme", "deployer")
    admin = await create_key(cluster, "acme", "admin")  # asks and decides
    one = await ask(cluster, deployer, subject_id="dep-1")
    two = await ask(cluster, deployer, subject_id="dep-2")
    own = await ask(cluster, admin, subject_id="dep-3")
    items = [
        {"approval_id": one["id"], "decision": "approve"},
        {"approval_id": "no-such-request", "decision": "approve"},
        {"approval_id": two["id"], "decision": "reject", "comment": "not now"},
        {"approval_id": own["id"], "decision": "approve"},
    ]
    async with cluster.client(admin) as client:
        resp = await client.post("/v1/approvals/decisions", json={"items": items})
    assert resp.status_code == 200, resp.text
    answers = resp.json()["items"]
    assert [(a["approval_id"], a["status"]) for a in answers] == [
        (one["id"], 200),
        ("no-such-request", 404),
        (two["id"], 200),
        (own["id"], 403),
    ]
    assert answers[0]["result"]["approval"]["status"] == "granted"
    assert answers[2]["result"]["approval"]["status"] == "rejected"
    assert answers[1]["problem"]["code"] == "approval_not_found"
    assert answers[3]["problem"]["code"] == "self_approval_forbidden"


async def test_a_long_poll_is_answered_when_the_request_is_decided(cluster: Cluster) -> None:
    asked = await ask(cluster, await create_key(cluster, "acme", "deployer"))
    approver = await create_key(cluster, "acme", "approver")
    path = f"/v1/approvals/{asked['id']}"
    async with cluster.client(approver) as client:
        polling = asyncio.create_task(client.get(path, params={"wait": 30}))
        await asyncio.sleep(0.5)  # most likely waiting by now; granted either way
        decided = await client.post(f"{path}/decisions", json={"decision": "approve"})
        assert decided.status_code == 200, decided.text
        answer = await asyncio.wait_for(polling, 30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "granted"


async def test_a_long_poll_outlasts_the_gateways_upstream_timeout(cluster: Cluster) -> None:
    """A gateway whose upstream timeout (0.5 s) is shorter than the wait: the long-poll route
    alone is given the wait as a margin, so a 2 s wait answers 200 (pending), not 503."""
    from gateway.app import create_app

    short = await serve_app(
        lambda port: create_app(gateway_settings(cluster, port, upstream_timeout_s=0.5))
    )
    try:
        asked = await ask(cluster, await create_key(cluster, "acme", "deployer"))
        viewer = await create_key(cluster, "acme", "viewer")
        headers = {"Authorization": f"Bearer {viewer}"}
        async with cluster.client(None) as client:
            resp = await client.get(
                f"{short.url}/v1/approvals/{asked['id']}", params={"wait": 2}, headers=headers
            )
    finally:
        await short.stop()
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "pending"


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_notification_settings_are_written_by_admins_only(
    cluster: Cluster, method: str
) -> None:
    viewer = await create_key(cluster, "acme", "viewer")
    approver = await create_key(cluster, "acme", "approver")
    for key in (viewer, approver):
        async with cluster.client(key) as client:
            resp = await client.request(method, "/v1/approvals/notifications", json={})
        assert_problem(resp, 403, "role_forbidden")
    globex = await create_key(cluster, "globex", "admin")
    async with cluster.client(globex) as client:
        resp = await client.request(
            method, "/v1/approvals/notifications", params={"agency": "acme"}, json={}
        )
    assert_problem(resp, 403, "agency_forbidden")


async def test_notification_settings_are_read_by_every_role(cluster: Cluster) -> None:
    viewer = await create_key(cluster, "acme", "viewer")
    async with cluster.client(viewer) as client:
        resp = await client.get("/v1/approvals/notifications")
    # relayed to the workflow (whatever it answers), never refused by the gateway
    assert resp.status_code not in (401, 403), resp.text
