"""One bad item of a message (an event of a batch) is dead-lettered alone; the message's other
effects are committed and it is acked, exactly once however often it is delivered."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import encode
from cortex_kit.db import Database
from cortex_kit.messaging.bus import MSG_ID_HEADER, Bus

from .conftest import DEAD_LETTERS, change_event, effect_deliveries, publish, stream_count
from .test_consumer import (
    CONSUMER,
    Delivery,
    apply_effects,
    everything_acked,
    fetch,
    runner_for,
    wait_until,
)

REASON = "event 'x\x00y'\nis bad"


async def apply_and_reject_item_3(session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
    await apply_effects(session, deliveries)
    for delivery in deliveries:
        delivery.reject_item("3", REASON)


async def test_a_rejected_item_is_dead_lettered_alone_and_its_message_acked(
    db: Database, bus: Bus
) -> None:
    envelope = change_event()
    await publish(bus, envelope)
    runner = runner_for(db, bus, apply_and_reject_item_3)
    await runner.declare()
    await runner.process(await fetch(bus, 1))

    await wait_until(everything_acked(bus), "the message is acked")
    assert await effect_deliveries(db) == {envelope.id: [1]}
    assert await stream_count(bus, DEAD_LETTERS.name) == 1
    dead = await bus.js.get_msg(DEAD_LETTERS.name, 1)
    assert dead.subject == f"cortex.dlq.t.{CONSUMER}"
    assert dead.data == encode(envelope)  # the message's bytes; the header names the item
    headers = dead.headers or {}
    assert headers["Cortex-Dlq-Item"] == "3"
    # One line of text, whatever the reason held.
    assert headers["Cortex-Dlq-Reason"] == "event 'x\\x00y'\\nis bad"
    assert headers["Cortex-Dlq-Consumer"] == CONSUMER
    assert headers["Cortex-Dlq-Original-Subject"] == "t.change"
    assert headers[MSG_ID_HEADER] == f"dlq:{CONSUMER}:{envelope.id}:3"


async def test_a_message_delivered_twice_dead_letters_its_rejected_item_once(
    db: Database, bus: Bus
) -> None:
    envelope = change_event()
    await publish(bus, envelope)
    runner = runner_for(db, bus, apply_and_reject_item_3)
    await runner.declare()
    [late] = await fetch(bus, 1)
    [again] = await fetch(bus, 1)  # redelivered while the first one is still unacked
    await asyncio.gather(runner.process([late]), runner.process([again]))

    await wait_until(everything_acked(bus), "both deliveries are acked")
    assert await effect_deliveries(db) == {envelope.id: [1]}
    assert await stream_count(bus, DEAD_LETTERS.name) == 1


async def test_an_item_rejected_by_a_batch_that_then_fails_is_dead_lettered_once(
    db: Database, bus: Bus
) -> None:
    envelope = change_event()
    attempts: list[int] = []

    async def rejects_then_fails_once(session: AsyncSession, batch: Sequence[Delivery]) -> None:
        await apply_and_reject_item_3(session, batch)
        attempts.extend(d.delivered for d in batch)
        if len(attempts) == 1:
            raise RuntimeError("the transaction fails after the item was rejected")

    await publish(bus, envelope)
    runner = runner_for(db, bus, rejects_then_fails_once)
    runner.start()
    try:
        await wait_until(lambda: _applied(db, envelope.id), "the retried message is applied")
        await wait_until(everything_acked(bus), "the message is acked")
    finally:
        await runner.stop()
    assert attempts == [1, 2]
    assert await effect_deliveries(db) == {envelope.id: [2]}
    assert await stream_count(bus, DEAD_LETTERS.name) == 1


async def _applied(db: Database, msg_id: str) -> bool:
    return msg_id in await effect_deliveries(db)
