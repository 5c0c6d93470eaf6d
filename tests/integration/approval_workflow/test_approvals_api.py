"""The approval workflow's API on real PostgreSQL and NATS: create, decide, events, trail,
long-poll, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cortex_contracts import ApprovalDecided, ApprovalOutcome, ApprovalRequested

from .conftest import Start, client, outbox_count, request_body, stream_payloads


async def wait_for(
    probe: Callable[[], Awaitable[list[object]]], timeout_s: float = 15.0
) -> list[object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        found = await probe()
        if found or loop.time() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_create_decide_until_granted_commits_and_publishes_the_event(
    start: Start, database_url: str, nats_url: str
) -> None:
    served = await start()
    async with client(served, "ci", team="payments") as ci:
        created = await ci.post(
            "/v1/approvals", json=request_body(quorum=2, required_roles=["sre", "security"])
        )
        assert created.status_code == 201, created.text
        approval = created.json()
        assert approval["status"] == "pending"
        assert approval["missing_roles"] == ["sre", "security"]
    approval_id = approval["id"]
    async with client(served, "ana", roles="sre") as ana:
        first = await ana.post(
            f"/v1/approvals/{approval_id}/decisions",
            json={"decision": "approve", "comment": "looks fine"},
        )
        assert first.status_code == 200, first.text
        assert first.json()["approval"]["status"] == "pending"
        assert first.json()["approval"]["missing_roles"] == ["security"]
    async with client(served, "bo", roles="security") as bo:
        second = await bo.post(
            f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"}
        )
        assert second.status_code == 200, second.text
        granted = second.json()["approval"]
    assert granted["status"] == "granted"
    assert [(t["approver"], t["roles"], t["decision"]) for t in granted["trail"]] == [
        ("ana", ["sre"], "approve"),
        ("bo", ["security"], "approve"),
    ]
    assert granted["trail"][0]["comment"] == "looks fine"
    # requested + decided, committed with the request's state
    assert await outbox_count(database_url, "cortex.approval.decided.") == 1
    assert await outbox_count(database_url, "cortex.approval.requested.") == 1

    async def published() -> list[object]:
        return await stream_payloads(nats_url, "cortex.approval.decided.acme")

    [decided] = await wait_for(published)
    assert isinstance(decided, ApprovalDecided)
    assert decided.approval_id == approval_id
    assert decided.outcome == ApprovalOutcome.APPROVAL_OUTCOME_GRANTED
    assert list(decided.decided_by) == ["ana", "bo"]
    assert decided.input_hash == "sha256:" + "ab" * 32
    assert decided.queue_seconds >= 0
    assert decided.requested_at.ToDatetime() <= decided.decided_at.ToDatetime()
    [asked] = await stream_payloads(nats_url, "cortex.approval.requested.acme")
    assert isinstance(asked, ApprovalRequested)
    assert asked.rule_ids == ["deploy.high-risk"]
    async with client(served, "ci") as ci:
        read = (await ci.get(f"/v1/approvals/{approval_id}")).json()
    assert read == granted


async def test_a_decision_is_final_per_approver_and_repeats_answer_the_same(start: Start) -> None:
    served = await start()
    async with client(served, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=request_body(quorum=2))).json()["id"]
    async with client(served, "ana", roles="sre") as ana:
        url = f"/v1/approvals/{approval_id}/decisions"
        first = await ana.post(url, json={"decision": "approve"})
        again = await ana.post(url, json={"decision": "approve"})
        assert again.status_code == 200
        assert again.json()["repeated"] is True
        assert again.json()["decision"] == first.json()["decision"]
        other = await ana.post(url, json={"decision": "reject"})
        assert other.status_code == 409
        assert other.headers["content-type"] == "application/problem+json"
        assert other.json()["code"] == "already_decided"
        assert other.json()["decision"] == "approve"
        assert other.json()["remediation"]


async def test_refusals_are_problems_with_code_and_remediation(start: Start) -> None:
    served = await start()
    async with client(served, "ci", roles="sre") as ci:
        approval_id = (await ci.post("/v1/approvals", json=request_body())).json()["id"]
        url = f"/v1/approvals/{approval_id}/decisions"
        own = await ci.post(url, json={"decision": "approve"})
        assert (own.status_code, own.json()["code"]) == (403, "self_approval_forbidden")
    async with client(served, "dev", roles="developer") as dev:
        resp = await dev.post(url, json={"decision": "approve"})
        assert (resp.status_code, resp.json()["code"]) == (403, "approver_role_missing")
    async with client(served, "ana", roles="sre") as ana:
        assert (await ana.post(url, json={"decision": "reject", "comment": "no"})).json()[
            "approval"
        ]["status"] == "rejected"
    async with client(served, "bo", roles="sre") as bo:
        late = await bo.post(url, json={"decision": "approve"})
        assert (late.status_code, late.json()["code"]) == (409, "approval_closed")
        assert late.json()["approval_status"] == "rejected"
        missing = await bo.post("/v1/approvals/nope/decisions", json={"decision": "approve"})
        assert (missing.status_code, missing.json()["code"]) == (404, "approval_not_found")


async def test_bad_input_is_4xx_problem_json_never_500(start: Start) -> None:
    served = await start()
    async with client(served, "ci") as ci:
        cases = [
            ("post", "/v1/approvals", {"json": {"subject": {"kind": "ship"}}}),
            ("post", "/v1/approvals", {"json": request_body(quorum=0)}),
            ("post", "/v1/approvals", {"json": request_body(required_roles=["Not A Role"])}),
            ("post", "/v1/approvals", {"json": request_body(summary="nul\x00")}),
            ("post", "/v1/approvals", {"json": request_body(expires_in_s=10**9)}),
            ("post", "/v1/approvals", {"json": request_body(escalate_after_s=60)}),
            ("post", "/v1/approvals", {"json": request_body(separation="team")}),
            (
                "post",
                "/v1/approvals",
                {"content": b"{not json", "headers": {"content-type": "application/json"}},
            ),
            ("get", "/v1/approvals", {"params": {"cursor": "%%%"}}),
            ("get", "/v1/approvals", {"params": {"cursor": "bm90LWEtY3Vyc29y"}}),
            ("get", "/v1/approvals", {"params": {"limit": 0}}),
            ("get", "/v1/approvals", {"params": {"status": "PENDING"}}),
            ("get", "/v1/approvals/x", {"params": {"wait": -1}}),
            ("post", "/v1/approvals/x/decisions", {"json": {"decision": "maybe"}}),
            ("post", "/v1/approvals/decisions", {"json": {"items": []}}),
        ]
        for method, path, kwargs in cases:
            resp = await getattr(ci, method)(path, **kwargs)
            assert 400 <= resp.status_code < 500, (path, kwargs, resp.status_code, resp.text)
            assert resp.headers["content-type"] == "application/problem+json", resp.text
            assert resp.json()["code"], resp.text
            assert resp.json()["remediation"], resp.text
    async with client(served, "") as anonymous:
        resp = await anonymous.post("/v1/approvals", json=request_body())
        assert (resp.status_code, resp.json()["code"]) == (400, "principal_required")


async def test_idempotency_key_and_natural_id_answer_a_retry_with_the_same_request(
    start: Start, database_url: str
) -> None:
    served = await start()
    async with client(served, "ci") as ci:
        key = {"Idempotency-Key": "pipeline-42"}
        first = await ci.post("/v1/approvals", json=request_body(), headers=key)
        retry = await ci.post("/v1/approvals", json=request_body(), headers=key)
        assert (first.status_code, retry.status_code) == (201, 200)
        assert retry.json()["id"] == first.json()["id"]
        changed = await ci.post("/v1/approvals", json=request_body(quorum=2), headers=key)
        assert (changed.status_code, changed.json()["code"]) == (409, "approval_id_taken")
        by_id = await ci.post("/v1/approvals", json=request_body(id="apr-7"))
        again = await ci.post("/v1/approvals", json=request_body(id="apr-7"))
        assert (by_id.status_code, again.status_code) == (201, 200)
    assert await outbox_count(database_url, "cortex.approval.requested.") == 2


async def test_a_newer_request_supersedes_the_pending_one_and_names_it(start: Start) -> None:
    served = await start()
    async with client(served, "ci") as ci:
        old = (await ci.post("/v1/approvals", json=request_body())).json()["id"]
        new = (await ci.post("/v1/approvals", json=request_body())).json()["id"]
        read = (await ci.get(f"/v1/approvals/{old}")).json()
        assert read["status"] == "superseded"
        assert read["superseded_by"] == new
    async with client(served, "ana", roles="sre") as ana:
        late = await ana.post(f"/v1/approvals/{old}/decisions", json={"decision": "approve"})
        assert (late.status_code, late.json()["code"]) == (410, "approval_superseded")
        assert late.json()["superseded_by"] == new


async def test_concurrent_decisions_by_two_approvers_stay_consistent(
    start: Start, database_url: str
) -> None:
    served = await start()
    async with client(served, "ci") as ci:
        ids = [
            (
                await ci.post(
                    "/v1/approvals",
                    json=request_body(
                        quorum=2,
                        subject={
                            "kind": "action",
                            "id": f"act-{n}",
                            "input_hash": "sha256:" + "cd" * 32,
                        },
                    ),
                )
            ).json()["id"]
            for n in range(10)
        ]
    async with client(served, "ana", roles="sre") as ana, client(served, "bo", roles="sre") as bo:
        for approval_id in ids:
            url = f"/v1/approvals/{approval_id}/decisions"
            a, b = await asyncio.gather(
                ana.post(url, json={"decision": "approve"}),
                bo.post(url, json={"decision": "approve"}),
            )
            assert (a.status_code, b.status_code) == (200, 200), (a.text, b.text)
            statuses = sorted([a.json()["approval"]["status"], b.json()["approval"]["status"]])
            assert statuses == ["granted", "pending"]  # one saw the other's vote, never both missed
        async with client(served, "ci") as ci:
            for approval_id in ids:
                read = (await ci.get(f"/v1/approvals/{approval_id}")).json()
                assert read["status"] == "granted"
                assert sorted(t["approver"] for t in read["trail"]) == ["ana", "bo"]
    assert await outbox_count(database_url, "cortex.approval.decided.") == len(ids)


async def test_long_poll_is_answered_when_decided(start: Start) -> None:
    served = await start(wait_poll_interval_s=60)  # woken by the commit, not the poll
    async with client(served, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=request_body())).json()["id"]
        waiting = asyncio.create_task(ci.get(f"/v1/approvals/{approval_id}", params={"wait": 30}))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        async with client(served, "ana", roles="sre") as ana:
            decided = await ana.post(
                f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"}
            )
            assert decided.status_code == 200
        answer = await asyncio.wait_for(waiting, 10)  # far less than the 30 s asked
        assert answer.json()["status"] == "granted"


async def test_long_poll_is_answered_when_another_replica_decides(start: Start) -> None:
    one, two = await start(wait_poll_interval_s=60), await start(wait_poll_interval_s=60)
    async with client(one, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=request_body())).json()["id"]
        waiting = asyncio.create_task(ci.get(f"/v1/approvals/{approval_id}", params={"wait": 30}))
        await asyncio.sleep(0.3)
        async with client(two, "ana", roles="sre") as ana:
            await ana.post(f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"})
        answer = await asyncio.wait_for(waiting, 10)  # the relay's publish, heard by broadcast
        assert answer.json()["status"] == "granted"


async def test_list_is_newest_first_with_a_keyset_cursor_and_decidable_filter(start: Start) -> None:
    served = await start()
    async with client(served, "ci") as ci:
        made = []
        for n in range(5):
            subject = {"kind": "decision", "id": f"dec-{n}", "input_hash": "sha256:" + "ef" * 32}
            roles = ["sre"] if n % 2 == 0 else ["security"]
            made.append(
                (
                    await ci.post(
                        "/v1/approvals", json=request_body(subject=subject, required_roles=roles)
                    )
                ).json()["id"]
            )
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await ci.get("/v1/approvals", params=params)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(made))
        mine = (await ci.get("/v1/approvals", params={"mine": "decidable"})).json()
        assert mine["items"] == []  # the requester can approve none of its own
    async with client(served, "ana", roles="sre") as ana:
        mine = (await ana.get("/v1/approvals", params={"mine": "decidable"})).json()
        assert [i["id"] for i in mine["items"]] == [made[4], made[2], made[0]]
    async with client(served, "ci", agency="globex") as other:
        assert (await other.get("/v1/approvals")).json()["items"] == []
        assert (await other.get(f"/v1/approvals/{made[0]}")).status_code == 404


async def test_bulk_decisions_answer_each_item_alone(start: Start) -> None:
    served = await start()
    async with client(served, "ci") as ci:
        good = (await ci.post("/v1/approvals", json=request_body())).json()["id"]
    async with client(served, "ana", roles="sre") as ana:
        resp = await ana.post(
            "/v1/approvals/decisions",
            json={
                "items": [
                    {"approval_id": "missing", "decision": "approve"},
                    {"approval_id": good, "decision": "approve"},
                ]
            },
        )
        assert resp.status_code == 200, resp.text
        first, second = resp.json()["items"]
        assert (first["status"], first["problem"]["code"]) == (404, "approval_not_found")
        assert first["problem"]["remediation"]
        assert (second["status"], second["result"]["approval"]["status"]) == (200, "granted")
        assert (await ana.get(f"/v1/approvals/{good}")).json()["status"] == "granted"
