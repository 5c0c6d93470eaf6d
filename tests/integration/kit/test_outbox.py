"""Transactional outbox on real PostgreSQL and JetStream: what is committed is published, once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, select

from cortex_kit.db import Database
from cortex_kit.embedded import EmbeddedNats
from cortex_kit.messaging.bus import Bus, OutgoingMessage
from cortex_kit.messaging.outbox import OutboxRelay, PendingEvent, add_to_outbox

from .conftest import (
    change_event,
    count_rows,
    holds,
    stage,
    stream_count,
    stream_msg_ids,
    tables,
    wait_until,
)


class Rollback(Exception):
    pass


def relay_for(db: Database, bus: Bus, *, max_backoff_s: float = 10.0) -> OutboxRelay:
    return OutboxRelay(
        db, bus, tables.outbox, service="t", poll_interval_s=0.1, max_backoff_s=max_backoff_s
    )


def relay_failures() -> float:
    return REGISTRY.get_sample_value("cortex_outbox_publish_failures_total", {"service": "t"}) or 0


async def stage_and_roll_back(db: Database) -> None:
    async with db.session() as session:
        await add_to_outbox(session, tables.outbox, [PendingEvent("t.change", change_event())])
        raise Rollback


async def test_rolled_back_transaction_publishes_nothing(db: Database, bus: Bus) -> None:
    with pytest.raises(Rollback):
        await stage_and_roll_back(db)

    assert await relay_for(db, bus).relay_once() == 0
    assert await stream_count(bus) == 0
    assert await count_rows(db, tables.outbox) == 0


async def test_event_committed_during_nats_outage_is_published_once_nats_is_back(
    db: Database, bus: Bus, cortex_nats: EmbeddedNats
) -> None:
    relay = relay_for(db, bus, max_backoff_s=0.5)
    relay.start()
    try:
        cortex_nats.stop()
        await wait_until(holds(lambda: not bus.connected), "the bus notices the outage")
        failures_before = relay_failures()
        await stage(db, change_event())
        await wait_until(holds(lambda: relay_failures() > failures_before), "the relay fails")
        assert await relay.backlog() == 1

        cortex_nats.start()
        await wait_until(_backlog_is_empty(relay), "the relay publishes the backlog")
    finally:
        await relay.stop()
    assert await stream_count(bus) == 1
    async with db.session() as session:
        published_at = await session.scalar(select(tables.outbox.c.published_at))
    assert published_at is not None


async def test_crash_between_publish_and_mark_leaves_one_message_in_the_stream(
    db: Database, bus: Bus
) -> None:
    await stage(db, change_event())
    async with db.session() as session:
        row = (await session.execute(select(tables.outbox))).one()
    # The previous relay published the row, then died before marking it published.
    acked = await bus.publish_batch(
        [OutgoingMessage(row.subject, row.data, row.msg_id, dict(row.headers))]
    )
    assert acked == [True]

    assert await relay_for(db, bus).relay_once() == 1
    assert await stream_count(bus) == 1
    assert await relay_for(db, bus).backlog() == 0


async def test_relay_publishes_events_in_commit_order(db: Database, bus: Bus) -> None:
    transactions = [[change_event(10 * t + i) for i in range(3)] for t in range(4)]
    for envelopes in transactions:
        await stage(db, *envelopes)

    relay = relay_for(db, bus)
    while await relay.relay_once():
        pass
    assert await stream_msg_ids(bus) == [e.id for envelopes in transactions for e in envelopes]


async def test_event_of_a_transaction_committing_late_is_published_after_it_commits(
    db: Database, bus: Bus
) -> None:
    early, late = change_event(1), change_event(2)
    relay = relay_for(db, bus)
    async with db.session() as slow:
        # `early` takes the lower outbox sequence number but commits last.
        await add_to_outbox(slow, tables.outbox, [PendingEvent("t.change", early)])
        await stage(db, late)
        assert await relay.relay_once() == 1
    assert await relay.relay_once() == 1
    assert await stream_msg_ids(bus) == [late.id, early.id]


async def test_large_transaction_is_published_completely(db: Database, bus: Bus) -> None:
    envelopes = [change_event(i) for i in range(3000)]
    await stage(db, *envelopes)

    relay = relay_for(db, bus)
    relay.start()
    try:
        await wait_until(_backlog_is_empty(relay), "the relay publishes 3,000 events", 60)
    finally:
        await relay.stop()
    assert await stream_msg_ids(bus) == [e.id for e in envelopes]


async def test_idle_relay_polls_at_its_poll_interval(db: Database, bus: Bus) -> None:
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    relay = OutboxRelay(db, bus, tables.outbox, service="t", poll_interval_s=0.25)
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    relay.start()
    try:
        await wait_until(holds(lambda: statements > 0), "the relay polls once")
        statements = 0
        await asyncio.sleep(1.0)
    finally:
        await relay.stop()
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    # One poll is one SELECT; a second of idling is about 4 polls, not a busy loop.
    assert statements <= 12, f"{statements} statements in 1 s of idling"


def _backlog_is_empty(relay: OutboxRelay) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await relay.backlog() == 0

    return check
