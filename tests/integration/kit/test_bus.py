"""The bus's JetStream publishing and the consumers' pull on real NATS: acks, dedupe, leftovers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import pytest
from nats.aio.msg import Msg
from nats.errors import BadSubjectError
from nats.errors import TimeoutError as NatsTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import encode
from cortex_kit.db import Database
from cortex_kit.messaging import fast_transport
from cortex_kit.messaging.bus import MSG_ID_HEADER, Bus, OutgoingMessage
from cortex_kit.messaging.consumer import ConsumerRunner, ConsumerSpec
from cortex_kit.messaging.fast_transport import FastPull, _ack_fields
from cortex_kit.messaging.handlers import Message, raw_bytes
from cortex_kit.messaging.transport import PullError

from .conftest import EVENTS, change_event, stream_count, tables
from .test_consumer import CONSUMER, apply_effects, runner_for

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def message(n: int, subject: str = "t.change", **headers: str) -> OutgoingMessage:
    envelope = change_event(n)
    return OutgoingMessage(subject, encode(envelope), envelope.id, dict(headers))


async def test_published_messages_keep_their_headers_and_carry_their_id(bus: Bus) -> None:
    msgs = [message(n, traceparent=TRACEPARENT) for n in range(3)]
    msgs.append(message(3, **{MSG_ID_HEADER: "ignored", "tracestate": "v=1"}))

    assert await bus.publish_batch(msgs) == [True] * 4

    for seq, msg in enumerate(msgs, start=1):
        stored = await bus.js.get_msg(EVENTS.name, seq)
        assert stored.data == msg.data
        assert (stored.headers or {})[MSG_ID_HEADER] == msg.msg_id
    assert (stored.headers or {})["tracestate"] == "v=1"
    first = await bus.js.get_msg(EVENTS.name, 1)
    assert (first.headers or {})["traceparent"] == TRACEPARENT
    assert bus.awaiting_acks == 0


async def test_a_republished_message_is_acknowledged_and_stored_once(bus: Bus) -> None:
    msgs = [message(n) for n in range(5)]
    assert await bus.publish_batch(msgs) == [True] * 5
    assert await bus.publish_batch([msgs[1], message(5), msgs[3]]) == [True] * 3

    assert await stream_count(bus) == 6


async def test_a_message_no_stream_takes_is_not_acknowledged_at_once(bus: Bus) -> None:
    started = time.monotonic()
    results = await bus.publish_batch([message(0), message(1, subject="nostream.x"), message(2)])

    assert results == [True, False, True]
    assert time.monotonic() - started < 2.0  # "no responders" answers; no waiting for timeout
    assert bus.awaiting_acks == 0


async def test_acks_that_come_too_late_leave_nothing_behind(bus: Bus) -> None:
    results = await bus.publish_batch([message(n) for n in range(50)], timeout_s=0.0)

    assert not all(results)
    assert bus.awaiting_acks == 0
    await asyncio.sleep(0.2)  # the late acks arrive and find nothing
    assert bus.awaiting_acks == 0
    assert await bus.publish_batch([message(50)]) == [True]


async def test_a_batch_failing_part_way_raises_and_leaves_nothing_behind(bus: Bus) -> None:
    with pytest.raises(BadSubjectError):
        await bus.publish_batch([message(0), message(1, subject="bad subject"), message(2)])

    assert bus.awaiting_acks == 0
    assert await bus.publish_batch([message(3)]) == [True]


async def test_a_batch_larger_than_the_in_flight_limit_is_published_completely(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cortex_kit.messaging.bus.MAX_IN_FLIGHT", 7)
    assert await bus.publish_batch([message(n) for n in range(30)]) == [True] * 30
    assert await stream_count(bus) == 30


async def test_pull_takes_deliveries_as_they_come_in_stream_order(db: Database, bus: Bus) -> None:
    await runner_for(db, bus, apply_effects).declare()
    transport = bus.transport
    pull = transport.puller(EVENTS.name, CONSUMER, batch_size=4)
    await pull.start()
    try:
        assert await pull.take(4, wait_s=0.2) == []
        await bus.publish_batch([message(n) for n in range(10)])
        taken: list[Msg] = []
        while len(taken) < 10:
            batch = await pull.take(4, wait_s=2.0)
            assert len(batch) <= 4
            await transport.ack(batch)  # within ack_wait: not delivered again
            taken += batch
        infos = [transport.info(m) for m in taken]
        assert [i.stream_seq for i in infos] == list(range(1, 11))
        assert [i.num_delivered for i in infos] == [1] * 10
        assert {i.stream for i in infos} == {EVENTS.name}
        assert infos[-1].num_pending == 0
    finally:
        left = await pull.stop()
    assert left == []


@pytest.mark.parametrize("transport", ["fast"])  # the hand-written pull's own bookkeeping
async def test_fast_pull_ends_expired_requests_and_asks_again(
    db: Database, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fast_transport, "PULL_EXPIRES_S", 0.3)
    await runner_for(db, bus, apply_effects).declare()
    pull = FastPull(bus.nc, EVENTS.name, CONSUMER, batch_size=4)
    await pull.start()
    try:
        assert await pull.take(4, wait_s=0.2) == []
        await asyncio.sleep(0.5)  # the request expires on the server (408) …
        assert pull._requested == 0
        await bus.publish_batch([message(n) for n in range(10)])
        taken = []
        while len(taken) < 10:  # … and a new one is made
            taken += await pull.take(4, wait_s=2.0)
        assert [_ack_fields(m.reply)[2] for m in taken] == list(range(1, 11))
    finally:
        assert await pull.stop() == []


async def test_pull_from_a_consumer_that_does_not_exist_raises(bus: Bus) -> None:
    pull = bus.transport.puller(EVENTS.name, "no-such-consumer", batch_size=4)
    await pull.start()
    try:
        with pytest.raises(PullError, match="pull request failed"):
            await pull.take(4, wait_s=3.0)
    finally:
        await pull.stop()


async def test_deliveries_pulled_ahead_go_back_at_once_when_the_runner_stops(
    db: Database, bus: Bus
) -> None:
    entered = asyncio.Event()
    handled: list[int] = []

    async def hangs(session: AsyncSession, deliveries: Sequence[Message[bytes]]) -> None:
        handled.append(len(deliveries))
        entered.set()
        await asyncio.Event().wait()

    spec = ConsumerSpec(
        CONSUMER, EVENTS.name, ["t.>"], raw_bytes, hangs, ack_wait_s=30, batch_size=2
    )
    runner = ConsumerRunner(db, bus, tables.inbox, spec, service="t")
    await bus.publish_batch([message(n) for n in range(6)])
    runner.start()
    await asyncio.wait_for(entered.wait(), 15)
    # the next batch is pulled ahead meanwhile: wait until the server has handed it out
    for _ in range(200):
        info = await bus.js.consumer_info(EVENTS.name, CONSUMER)
        if info.num_ack_pending >= 4:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # and the client has queued it
    await runner.stop()

    # Not after ack_wait (30 s): what was pulled ahead and not handled is delivered again now.
    sub = await bus.js.pull_subscribe_bind(CONSUMER, stream=EVENTS.name)
    again: list[Msg] = []
    try:  # one fetch may return before the released deliveries are back: keep fetching
        deadline = asyncio.get_running_loop().time() + 5  # far less than ack_wait (30 s)
        while len(again) < 6 - sum(handled) and asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(NatsTimeoutError):
                again += await sub.fetch(6, timeout=0.5)
    finally:
        await sub.unsubscribe()
    # All but those stuck in the handler: those pulled ahead (a second delivery now) and any
    # never delivered yet. How far ahead each transport pulls is its own (up to two batches).
    [stuck] = handled
    deliveries = sorted(m.metadata.num_delivered for m in again)
    assert len(deliveries) == 6 - stuck
    assert 2 in deliveries
    assert set(deliveries) <= {1, 2}
