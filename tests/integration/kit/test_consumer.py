"""Durable consumers on real JetStream and PostgreSQL: one effect per message, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.msg import Msg
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import encode
from cortex_kit.db import Database
from cortex_kit.embedded import EmbeddedPostgres
from cortex_kit.messaging.bus import Bus
from cortex_kit.messaging.consumer import ConsumerRunner, ConsumerSpec
from cortex_kit.messaging.handlers import BatchHandler, Message, Undecodable, raw_bytes

from .conftest import (
    DEAD_LETTERS,
    EVENTS,
    change_event,
    connect_bus,
    effect_deliveries,
    effects,
    publish,
    stream_count,
    tables,
    wait_until,
)

CONSUMER = "kit-consumer"
ACK_WAIT_S = 1.0
Delivery = Message[bytes]  # the tests' handlers take the raw bytes


async def apply_effects(session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
    for d in deliveries:
        await session.execute(insert(effects).values(msg_id=d.id, delivery=d.delivered))


MAX_DELIVER = 3


def runner_for(
    db: Database,
    bus: Bus,
    handler: BatchHandler[bytes],
    retry_max_s: float = 30.0,
    *,
    concurrency: int = 1,
    batch_size: int = 500,
    max_batch_bytes: int | None = None,
    decode: Callable[[bytes], bytes] = raw_bytes,
) -> ConsumerRunner[bytes]:
    spec = ConsumerSpec(
        name=CONSUMER,
        stream=EVENTS.name,
        filter_subjects=["t.>"],
        decode=decode,
        handler=handler,
        max_deliver=MAX_DELIVER,
        ack_wait_s=ACK_WAIT_S,
        retry_base_s=0.05,
        retry_max_s=retry_max_s,
        concurrency=concurrency,
        batch_size=batch_size,
        max_batch_bytes=max_batch_bytes,
    )
    return ConsumerRunner(db, bus, tables.inbox, spec, service="t")


def everything_acked(bus: Bus) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        info = await bus.js.consumer_info(EVENTS.name, CONSUMER)
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    return check


async def fetch(bus: Bus, count: int) -> list[Msg]:
    """The next `count` deliveries of the durable consumer, waiting for redeliveries."""
    sub = await bus.js.pull_subscribe_bind(CONSUMER, stream=EVENTS.name)
    msgs: list[Msg] = []
    try:
        while len(msgs) < count:
            msgs += await sub.fetch(count - len(msgs), timeout=5 * ACK_WAIT_S)
    finally:
        await sub.unsubscribe()
    return msgs


async def test_message_delivered_twice_takes_effect_once(db: Database, bus: Bus) -> None:
    envelope = change_event()
    await publish(bus, envelope)
    runner = runner_for(db, bus, apply_effects)
    await runner.declare()

    [late] = await fetch(bus, 1)
    # Not acked within ack_wait: JetStream hands the message out again while the first
    # delivery is still being worked on.
    [again] = await fetch(bus, 1)
    assert again.metadata.num_delivered == 2
    await asyncio.gather(runner.process([late]), runner.process([again]))

    await wait_until(everything_acked(bus), "both deliveries are acked")
    applied = await effect_deliveries(db)
    assert list(applied) == [envelope.id]
    assert len(applied[envelope.id]) == 1


async def test_message_of_a_consumer_killed_mid_handler_takes_effect_once(
    db: Database, bus: Bus, nats_url: str
) -> None:
    envelope = change_event()
    inside_handler = asyncio.Event()

    async def hangs_after_applying(session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
        await apply_effects(session, deliveries)
        inside_handler.set()
        await asyncio.Event().wait()

    dying_bus = await connect_bus(nats_url, bus.transport_name)
    dying = runner_for(db, dying_bus, hangs_after_applying)
    dying.start()
    await publish(bus, envelope)
    await asyncio.wait_for(inside_handler.wait(), 15)
    await dying.stop()
    await dying_bus.close()

    successor = runner_for(db, bus, apply_effects)
    successor.start()
    try:
        await wait_until(everything_acked(bus), "the successor acks the redelivered message")
    finally:
        await successor.stop()
    # One effect, of a redelivery (which one: a stopping puller may have taken it in between
    # and released it again).
    [(msg_id, [delivery])] = (await effect_deliveries(db)).items()
    assert msg_id == envelope.id
    assert delivery >= 2


async def test_failing_message_is_dead_lettered_after_max_deliver_without_blocking_its_batch(
    db: Database, bus: Bus
) -> None:
    good, bad, other = change_event(1), change_event(2), change_event(3)
    deliveries_of_bad: Counter[int] = Counter()

    async def fails_on_bad(session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            if d.id == bad.id:
                deliveries_of_bad[d.delivered] += 1
                raise RuntimeError(f"cannot apply {d.id}")
        await apply_effects(session, deliveries)

    await publish(bus, good, bad, other)
    runner = runner_for(db, bus, fails_on_bad)
    await runner.declare()
    await runner.process(await fetch(bus, 3))  # one batch of three
    assert await effect_deliveries(db) == {good.id: [1], other.id: [1]}

    runner.start()
    try:
        await wait_until(lambda: _has_messages(bus, DEAD_LETTERS.name), "a dead letter appears")
        # Nothing left pending: JetStream will not deliver the message again.
        await wait_until(everything_acked(bus), "the dead letter is terminated")
    finally:
        await runner.stop()
    assert sorted(deliveries_of_bad) == [1, 2, 3]
    assert await effect_deliveries(db) == {good.id: [1], other.id: [1]}

    assert await stream_count(bus, DEAD_LETTERS.name) == 1
    dead = await bus.js.get_msg(DEAD_LETTERS.name, 1)
    assert dead.subject == f"cortex.dlq.t.{CONSUMER}"
    assert dead.data == encode(bad)
    headers = dead.headers or {}
    assert f"RuntimeError: cannot apply {bad.id}" in headers["Cortex-Dlq-Reason"]
    assert headers["Cortex-Dlq-Consumer"] == CONSUMER
    assert headers["Cortex-Dlq-Original-Subject"] == "t.change"
    assert headers["Cortex-Dlq-Deliveries"] == "3"


async def test_poison_message_is_dead_lettered_on_first_delivery(db: Database, bus: Bus) -> None:
    poison = change_event()
    deliveries: list[bytes] = []

    def undecodable(data: bytes) -> bytes:
        deliveries.append(data)
        raise Undecodable("unknown event type")

    await publish(bus, poison)
    runner = runner_for(db, bus, apply_effects, decode=undecodable)
    runner.start()
    try:
        await wait_until(lambda: _has_messages(bus, DEAD_LETTERS.name), "a dead letter appears")
        await wait_until(everything_acked(bus), "the poison message is terminated")
    finally:
        await runner.stop()
    assert deliveries == [encode(poison)]  # decoded once: never retried
    assert await effect_deliveries(db) == {}
    dead = await bus.js.get_msg(DEAD_LETTERS.name, 1)
    headers = dead.headers or {}
    assert headers["Cortex-Dlq-Reason"] == "Undecodable: unknown event type"
    assert headers["Cortex-Dlq-Deliveries"] == "1"


async def _has_messages(bus: Bus, stream: str) -> bool:
    return await stream_count(bus, stream) > 0


async def test_consumer_keeps_consuming_when_a_dead_letter_cannot_be_published(
    db: Database, bus: Bus
) -> None:
    await bus.js.delete_stream(DEAD_LETTERS.name)
    poison, good = change_event(1), change_event(2)
    poison_seen = asyncio.Event()

    def rejects_poison(data: bytes) -> bytes:
        if data == encode(poison):
            poison_seen.set()
            raise Undecodable("unknown event type")
        return data

    runner = runner_for(db, bus, apply_effects, decode=rejects_poison)
    runner.start()
    try:
        await publish(bus, poison)
        await asyncio.wait_for(poison_seen.wait(), 15)
        await publish(bus, good)
        await wait_until(
            lambda: _has_effect(db, good.id), "the next message is processed", timeout_s=10
        )
    finally:
        await runner.stop()


async def _has_effect(db: Database, msg_id: str) -> bool:
    return msg_id in await effect_deliveries(db)


async def test_database_outage_does_not_dead_letter_healthy_messages(
    db: Database, bus: Bus, cortex_postgres: EmbeddedPostgres
) -> None:
    envelope = change_event()
    runner = runner_for(db, bus, apply_effects, retry_max_s=0.05)
    await runner.declare()
    cortex_postgres.stop()
    try:
        await publish(bus, envelope)
        [msg] = await fetch(bus, 1)
        for _ in range(MAX_DELIVER + 2):  # more failures than max_deliver allows
            await runner.process([msg])
            [msg] = await fetch(bus, 1)
    finally:
        cortex_postgres.start()
    assert msg.metadata.num_delivered > MAX_DELIVER
    await runner.process([msg])
    await wait_until(everything_acked(bus), "the message is acked once PostgreSQL is back")
    assert list(await effect_deliveries(db)) == [envelope.id]
    assert await stream_count(bus, DEAD_LETTERS.name) == 0


async def test_concurrent_batches_overlap_and_each_message_takes_effect_once(
    db: Database, bus: Bus
) -> None:
    envelopes = [change_event(n) for n in range(120)]
    inside = 0
    overlapped = asyncio.Event()

    async def slow_effects(session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
        nonlocal inside
        inside += 1
        if inside >= 2:
            overlapped.set()
        try:
            await apply_effects(session, deliveries)
            # Hold the transaction open until another batch is being handled too.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(overlapped.wait(), 0.5)
        finally:
            inside -= 1

    runner = runner_for(db, bus, slow_effects, concurrency=3, batch_size=10)
    await runner.declare()
    await publish(bus, *envelopes)
    runner.start()
    try:
        await wait_until(everything_acked(bus), "every message is acked")
    finally:
        await runner.stop()
    assert overlapped.is_set(), "no two batches were ever handled at the same time"
    applied = await effect_deliveries(db)
    assert sorted(applied) == sorted(e.id for e in envelopes)
    assert all(len(d) == 1 for d in applied.values())


async def test_batches_end_at_max_batch_bytes_and_a_larger_message_goes_alone(
    db: Database, bus: Bus
) -> None:
    envelopes = [change_event(n) for n in range(30)]
    size = len(encode(envelopes[0]))
    sizes: list[int] = []

    async def record(session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
        sizes.append(sum(len(d.payload) for d in deliveries))
        await apply_effects(session, deliveries)

    await publish(bus, *envelopes)
    runner = runner_for(db, bus, record, max_batch_bytes=3 * size)
    await runner.declare()
    runner.start()
    try:
        await wait_until(everything_acked(bus), "every message is acked")
    finally:
        await runner.stop()
    assert sum(sizes) == sum(len(encode(e)) for e in envelopes)
    assert max(sizes) <= 3 * size + 3  # ids differ in length by a few bytes at most
    assert len(sizes) >= 10

    lone = await effect_deliveries(db)
    assert len(lone) == 30
    small = runner_for(db, bus, record, max_batch_bytes=1)
    sizes.clear()
    await publish(bus, *[change_event(100 + n) for n in range(3)])
    small.start()
    try:
        await wait_until(everything_acked(bus), "oversized messages are acked one by one")
    finally:
        await small.stop()
    assert len(sizes) == 3
