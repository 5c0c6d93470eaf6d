"""Durable timers: expiry and escalation fire once, survive a restart, and two replicas on one
database fire each due timer exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select

from approval_workflow.models import messaging, timers
from cortex_contracts import ApprovalDecided, ApprovalEscalated, ApprovalOutcome, decode, unpack
from cortex_kit.db import Database
from cortex_kit.testing.clock import Clock

from .conftest import Start, client, outbox_count, request_body, stream_payloads


async def until(probe: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await probe():
        assert loop.time() < deadline, "not reached in time"
        await asyncio.sleep(0.1)


def subject(n: int) -> dict[str, str]:
    return {"kind": "deployment", "id": f"dep-{n}", "input_hash": "sha256:" + "ab" * 32}


async def decided_ids(database_url: str) -> list[str]:
    """The approval id of every ApprovalDecided staged in the outbox (duplicates included)."""
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            rows = await session.scalars(
                select(messaging.outbox.c.data).where(
                    messaging.outbox.c.subject.startswith("cortex.approval.decided.")
                )
            )
            return [unpack(decode(data), ApprovalDecided).approval_id for data in rows]
    finally:
        await db.dispose()


async def unfired_timers(database_url: str) -> int:
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            statement = select(func.count()).where(timers.c.fired_at.is_(None))
            return int((await session.execute(statement)).scalar_one())
    finally:
        await db.dispose()


async def test_a_request_expires_once_and_fails_closed(
    start: Start, database_url: str, nats_url: str
) -> None:
    served = await start()
    async with client(served, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=request_body(expires_in_s=1))).json()[
            "id"
        ]

        async def expired() -> bool:
            return (await ci.get(f"/v1/approvals/{approval_id}")).json()["status"] == "expired"

        await until(expired)
    async with client(served, "ana", roles="sre") as ana:
        late = await ana.post(
            f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"}
        )
        assert (late.status_code, late.json()["code"]) == (410, "approval_expired")
    await asyncio.sleep(0.5)  # several more reconciler ticks
    assert await decided_ids(database_url) == [approval_id]

    async def published() -> bool:
        found = await stream_payloads(nats_url, "cortex.approval.decided.acme")
        return len(found) == 1

    await until(published)
    [event] = await stream_payloads(nats_url, "cortex.approval.decided.acme")
    assert event.outcome == ApprovalOutcome.APPROVAL_OUTCOME_EXPIRED


async def test_escalation_is_sent_once_to_its_target(start: Start, database_url: str) -> None:
    clock = Clock()
    served = await start(clock=clock)
    body = request_body(expires_in_s=3600, escalate_after_s=600, escalate_to="platform-oncall")
    async with client(served, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=body)).json()["id"]
        clock.advance(601)

        async def escalated() -> bool:
            read = (await ci.get(f"/v1/approvals/{approval_id}")).json()
            return read["escalated_at"] is not None

        await until(escalated)
        await asyncio.sleep(0.5)
        clock.advance(60)
        await asyncio.sleep(0.5)
        read = (await ci.get(f"/v1/approvals/{approval_id}")).json()
    assert read["status"] == "pending"
    assert await outbox_count(database_url, "cortex.approval.escalated.") == 1
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            data = await session.scalar(
                select(messaging.outbox.c.data).where(
                    messaging.outbox.c.subject == "cortex.approval.escalated.acme"
                )
            )
    finally:
        await db.dispose()
    assert data is not None
    event = unpack(decode(data), ApprovalEscalated)
    assert (event.approval_id, event.escalate_to) == (approval_id, "platform-oncall")


async def test_a_timer_survives_a_restart_and_fires_once(start: Start, database_url: str) -> None:
    clock = Clock()
    first = await start(clock=clock)
    async with client(first, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=request_body(expires_in_s=60))).json()[
            "id"
        ]
    await first.stop()  # nothing in memory survives this
    clock.advance(61)
    second = await start(clock=clock)

    async def fired() -> bool:
        return await unfired_timers(database_url) == 0

    await until(fired)
    async with client(second, "ci") as ci:
        assert (await ci.get(f"/v1/approvals/{approval_id}")).json()["status"] == "expired"
    await asyncio.sleep(0.5)
    assert await decided_ids(database_url) == [approval_id]


async def test_two_replicas_fire_fifty_due_timers_exactly_once_each(
    start: Start, database_url: str, nats_url: str
) -> None:
    clock = Clock()
    one = await start(clock=clock, timer_batch_size=7)
    two = await start(clock=clock, timer_batch_size=7)
    ids = []
    async with client(one, "ci") as ci:
        for n in range(50):
            resp = await ci.post(
                "/v1/approvals", json=request_body(subject=subject(n), expires_in_s=60)
            )
            ids.append(resp.json()["id"])
    clock.advance(61)  # all 50 due at once, for both replicas

    async def fired() -> bool:
        return await unfired_timers(database_url) == 0

    await until(fired)
    await asyncio.sleep(0.5)
    staged = await decided_ids(database_url)
    assert sorted(staged) == sorted(ids)  # each once: no duplicate, none missing

    async def all_published() -> bool:
        return len(await stream_payloads(nats_url, "cortex.approval.decided.acme")) >= 50

    await until(all_published)
    published = await stream_payloads(nats_url, "cortex.approval.decided.acme")
    assert sorted(e.approval_id for e in published) == sorted(ids)
    assert not one.task.done()
    assert not two.task.done()  # both replicas ran the whole time


async def test_a_long_poll_and_the_list_show_an_expiry_from_the_reconciler_tick(
    start: Start,
) -> None:
    served = await start(timer_interval_s=1.0, wait_poll_interval_s=30)
    async with client(served, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=request_body(expires_in_s=1))).json()[
            "id"
        ]
        waited = await ci.get(f"/v1/approvals/{approval_id}", params={"wait": 20})
        assert waited.json()["status"] == "expired"  # woken by the reconciler's commit
        listed = (await ci.get("/v1/approvals", params={"status": "expired"})).json()
    assert [a["id"] for a in listed["items"]] == [approval_id]


async def test_a_batch_applies_a_requests_escalation_and_expiry_due_together(
    start: Start, database_url: str
) -> None:
    clock = Clock()
    served = await start(clock=clock)
    body = request_body(expires_in_s=600, escalate_after_s=60, escalate_to="oncall")
    async with client(served, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=body)).json()["id"]
        clock.advance(601)  # both due: one claim holds both timers of the request

        async def fired() -> bool:
            return await unfired_timers(database_url) == 0

        await until(fired)
        read = (await ci.get(f"/v1/approvals/{approval_id}")).json()
    assert read["status"] == "expired"
    assert read["escalated_at"] is not None
    assert await outbox_count(database_url, "cortex.approval.escalated.") == 1
    assert await decided_ids(database_url) == [approval_id]
