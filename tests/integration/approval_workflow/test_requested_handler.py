"""The approval.requested consumer's handler fed typed messages (cortex_kit.testing.handlers):
no NATS, a real migrated PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import approval_workflow
from approval_workflow.approvals import repository
from approval_workflow.approvals.consumers import Requested, requested_consumer
from approval_workflow.approvals.staging import Staging
from approval_workflow.models import SCHEMA, messaging, requests, timers
from approval_workflow.notifications.service import Notifier
from approval_workflow.settings import Settings
from cortex_contracts import (
    ApprovalDecided,
    ApprovalRequested,
    SubjectKind,
    decode,
    encode,
    pack,
    unpack,
)
from cortex_kit.db import Database
from cortex_kit.messaging.consumer import ConsumerSpec
from cortex_kit.migrations import upgrade_to_head
from cortex_kit.testing.handlers import received, run_handler

SETTINGS = Settings.model_construct()
NOW = datetime.now(UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    migrations = Path(approval_workflow.__file__).parent / "migrations"
    await upgrade_to_head(database, migrations, SCHEMA)
    yield database
    await database.dispose()


def spec() -> ConsumerSpec[Requested]:
    return requested_consumer(
        SETTINGS,
        Staging(messaging.outbox, Notifier(None)),
        separation="requester",
        default_expiry=timedelta(hours=24),
        clock=lambda: NOW,
    )


def event(approval_id: str, *, at: datetime = NOW, **fields: object) -> bytes:
    payload = ApprovalRequested(
        approval_id=approval_id,
        agency="acme",
        subject_kind=SubjectKind.SUBJECT_KIND_ACTION,
        subject_id="act-1",
        requested_by="agent-7",
        required_roles=["sre"],
        quorum=1,
        input_hash="sha256:" + "ab" * 32,
        rule_ids=["actions.payments"],
        policy_version="org:1+agency:2",
        **fields,  # type: ignore[arg-type]
    )
    payload.requested_at.FromDatetime(at)
    return encode(pack(payload, agency="acme", source="policy-engine"))


async def statuses(db: Database) -> dict[str, str]:
    async with db.session() as session:
        rows = await session.execute(select(requests.c.id, requests.c.status))
        return {r.id: r.status for r in rows}


async def test_an_event_becomes_a_pending_request_with_its_timers(db: Database) -> None:
    consumer = spec()
    async with db.session() as session:
        dead = await run_handler(consumer, [received(consumer, event("apr-1"))], session)
    assert dead == []
    async with db.session() as session:
        stored = await repository.get(session, "apr-1")
        kinds = set(await session.scalars(select(timers.c.kind)))
        outbox = list(await session.scalars(select(messaging.outbox.c.subject)))
    assert stored is not None
    assert stored.approval.status == "pending"
    assert stored.approval.subject.kind == "action"
    assert stored.approval.expires_at == NOW + timedelta(hours=24)  # the default, fails closed
    assert stored.details.rule_ids == ("actions.payments",)
    assert kinds == {"expire"}
    assert outbox == []  # the producer announced it already


async def test_the_same_request_twice_is_one_request(db: Database) -> None:
    consumer = spec()
    data = event("apr-1")
    async with db.session() as session:
        assert await run_handler(consumer, [received(consumer, data)], session) == []
    async with db.session() as session:  # redelivered under another envelope
        again = received(consumer, event("apr-1"))
        assert await run_handler(consumer, [again], session) == []
    assert await statuses(db) == {"apr-1": "pending"}


async def test_a_newer_event_supersedes_and_stages_the_outcome(db: Database) -> None:
    consumer = spec()
    older = received(consumer, event("apr-1", at=NOW - timedelta(minutes=5)))
    newer = received(consumer, event("apr-2", at=NOW))
    async with db.session() as session:
        assert await run_handler(consumer, [newer, older], session) == []  # out of order
    assert await statuses(db) == {"apr-1": "superseded", "apr-2": "pending"}
    async with db.session() as session:
        [data] = list(await session.scalars(select(messaging.outbox.c.data)))
    outcome = unpack(decode(data), ApprovalDecided)
    assert (outcome.approval_id, outcome.superseded_by) == ("apr-1", "apr-2")


async def test_one_unworkable_event_is_dead_lettered_alone(db: Database) -> None:
    consumer = spec()
    bad = received(consumer, event("apr-bad", separation=2))  # team rule, no requester team
    good = received(consumer, event("apr-good"))
    async with db.session() as session:
        dead = await run_handler(consumer, [bad, good], session)
    assert [(d.item, d.reason.split(":")[0]) for d in dead] == [("apr-bad", "invalid_approval")]
    assert await statuses(db) == {"apr-good": "pending"}
