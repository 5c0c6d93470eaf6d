"""Hostile and malformed input to the approval routes through the gateway: always a 4xx
problem+json with a code and a remediation, never a 500, and nothing half-written."""

from __future__ import annotations

from typing import Any

import pytest

from cortex_kit.errors import PROBLEM_JSON

from .conftest import Cluster
from .test_approvals_gateway import ask, create_key, request_body

JSON = {"Content-Type": "application/json"}


def assert_refused(resp: Any, *statuses: int) -> str:
    assert resp.status_code in statuses, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith(PROBLEM_JSON), resp.text[:300]
    problem = resp.json()
    assert problem["code"], problem
    assert problem["remediation"], problem
    return str(problem["code"])


BAD_REQUESTS = [
    ("not json", b"{", 400, 422),
    ("json array", b"[]", 400, 422),
    ("nul in summary", {"summary": "a\u0000b"}, 422),
    ("quorum beyond 64 bits", {"quorum": 2**70}, 422),
    ("quorum zero", {"quorum": 0}, 422),
    ("quorum negative", {"quorum": -1}, 422),
    ("expiry in the past", {"expires_in_s": -5}, 422),
    ("roles not a list", {"required_roles": "admin"}, 422),
    ("a role with a newline", {"required_roles": ["app\nrover"]}, 422),
    ("subject kind unknown", {"subject": {"kind": "x", "id": "d", "input_hash": "sha256:00"}}, 422),
    ("subject id empty", {"subject": {"kind": "deployment", "id": "", "input_hash": "h"}}, 422),
    ("summary of 1 MB", {"summary": "x" * 1_100_000}, 413, 422),
]


@pytest.mark.parametrize(
    ("body", "statuses"),
    [(case[1], case[2:]) for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
async def test_a_malformed_request_is_refused_and_nothing_is_stored(
    cluster: Cluster, body: Any, statuses: tuple[int, ...]
) -> None:
    deployer = await create_key(cluster, "acme", "deployer")
    async with cluster.client(deployer) as client:
        if isinstance(body, bytes):
            resp = await client.post("/v1/approvals", content=body, headers=JSON)
        else:
            resp = await client.post("/v1/approvals", json=request_body(**body))
        assert_refused(resp, *statuses)
        listed = await client.get("/v1/approvals")
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


BAD_DECISIONS = [
    ("unknown decision", {"decision": "maybe"}),
    ("nul in comment", {"decision": "approve", "comment": "ok\u0000"}),
    ("decision missing", {"comment": "x"}),
    ("decision a number", {"decision": 1}),
]


@pytest.mark.parametrize("body", [c[1] for c in BAD_DECISIONS], ids=[c[0] for c in BAD_DECISIONS])
async def test_a_malformed_decision_is_refused_and_the_request_stays_pending(
    cluster: Cluster, body: dict[str, Any]
) -> None:
    deployer = await create_key(cluster, "acme", "deployer")
    approver = await create_key(cluster, "acme", "approver")
    asked = await ask(cluster, deployer)
    async with cluster.client(approver) as client:
        resp = await client.post(f"/v1/approvals/{asked['id']}/decisions", json=body)
        assert_refused(resp, 422)
        after = await client.get(f"/v1/approvals/{asked['id']}")
    assert after.json()["status"] == "pending"
    assert after.json()["trail"] == []


@pytest.mark.parametrize(
    "query",
    ["wait=-1", "wait=abc", "wait=1e309", "limit=0", "limit=100000", "cursor=%00", "cursor=zzz"],
)
async def test_bad_query_parameters_are_a_4xx(cluster: Cluster, query: str) -> None:
    viewer = await create_key(cluster, "acme", "viewer")
    deployer = await create_key(cluster, "acme", "deployer")
    asked = await ask(cluster, deployer)
    path = f"/v1/approvals/{asked['id']}" if query.startswith("wait") else "/v1/approvals"
    async with cluster.client(viewer) as client:
        resp = await client.get(f"{path}?{query}")
    assert_refused(resp, 400, 422)


@pytest.mark.parametrize("approval_id", ["x%00y", "..%2F..%2Fetc", "a" * 5000, "%F0%28%8C%BC"])
async def test_odd_ids_are_a_4xx_never_a_500(cluster: Cluster, approval_id: str) -> None:
    approver = await create_key(cluster, "acme", "approver")
    async with cluster.client(approver) as client:
        read = await client.get(f"/v1/approvals/{approval_id}")
        decided = await client.post(
            f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"}
        )
    assert_refused(read, 400, 404, 414, 422)
    assert_refused(decided, 400, 404, 414, 422)


async def test_a_bulk_of_unknown_and_foreign_ids_answers_each_and_changes_nothing(
    cluster: Cluster,
) -> None:
    globex_deployer = await create_key(cluster, "globex", "deployer")
    foreign = await ask(cluster, globex_deployer)
    approver = await create_key(cluster, "acme", "approver")
    items = [
        {"approval_id": foreign["id"], "decision": "approve"},
        {"approval_id": "nope", "decision": "approve"},
    ]
    async with cluster.client(approver) as client:
        resp = await client.post("/v1/approvals/decisions", json={"items": items})
    assert resp.status_code == 200, resp.text
    results = resp.json()["items"]
    assert [r["approval_id"] for r in results] == [foreign["id"], "nope"]
    assert [r["status"] for r in results] == [404, 404]
    assert [r["problem"]["code"] for r in results] == ["approval_not_found"] * 2
    async with cluster.client(globex_deployer) as client:
        still = await client.get(f"/v1/approvals/{foreign['id']}")
    assert still.json()["status"] == "pending"
