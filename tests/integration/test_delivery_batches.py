"""A DeliveryBatch published straight on NATS (no gateway to check it) with one bad event:
the others are stored exactly once, the bad one is dead-lettered alone with its reason."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from nats.js.api import RawStreamMsg
from sqlalchemy import func, select

import metrics_collector
from cortex_contracts import (
    DLQ_STREAM,
    STREAMS,
    DeliveryBatch,
    DeliveryEvent,
    DeploymentRecorded,
    Envelope,
    encode,
    pack,
    subject_for,
)
from cortex_kit.db import Database
from cortex_kit.messaging.bus import MSG_ID_HEADER, Bus
from cortex_kit.messaging.consumer import ConsumerRunner
from cortex_kit.migrations import upgrade_to_head
from metrics_collector.events.consumers import delivery_consumer
from metrics_collector.models import SCHEMA, delivery_events, delivery_fact_versions, messaging
from metrics_collector.settings import Settings

from .conftest import Cluster

GOOD = 100
BAD_AT = 57
CONSUMER = "test-delivery"


def poisoned_batch(bad_id: str) -> Envelope:
    """100 valid deployments and, at index 57, one whose id is ``bad_id``."""
    events = [
        DeliveryEvent(deployment=DeploymentRecorded(deployment_id=f"d-{n}", service="checkout"))
        for n in range(GOOD)
    ]
    bad = DeploymentRecorded(deployment_id=bad_id, service="checkout")
    events.insert(BAD_AT, DeliveryEvent(deployment=bad))
    return pack(DeliveryBatch(events=events), agency="acme", source="another-publisher")


def envelope_bad_id(envelope: Envelope) -> str:
    batch = DeliveryBatch()
    envelope.payload.Unpack(batch)
    return batch.events[BAD_AT].deployment.deployment_id


async def publish(bus: Bus, envelope: Envelope) -> None:
    batch = DeliveryBatch()
    envelope.payload.Unpack(batch)
    await bus.js.publish(
        subject_for(batch, "acme"), encode(envelope), headers={MSG_ID_HEADER: envelope.id}
    )


async def dead_letters(bus: Bus, consumer: str | None = None) -> list[RawStreamMsg]:
    count = (await bus.js.stream_info(DLQ_STREAM.name)).state.messages
    found = [await bus.js.get_msg(DLQ_STREAM.name, seq) for seq in range(1, count + 1)]
    return [m for m in found if consumer is None or _header(m, "Cortex-Dlq-Consumer") == consumer]


def _header(msg: RawStreamMsg, name: str) -> str:
    return (msg.headers or {}).get(name, "")


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    connected = Bus(nats_url, name=f"test-{uuid.uuid4().hex[:8]}")
    await connected.connect(wait_s=10)
    await connected.ensure_streams(STREAMS)
    yield connected
    await connected.close()


async def test_a_batch_on_nats_with_one_bad_event_stores_the_others_and_dead_letters_it(
    cluster: Cluster, bus: Bus
) -> None:
    envelope = poisoned_batch("x\x00y")
    await publish(bus, envelope)

    async with cluster.client() as client:

        async def all_stored() -> bool:
            resp = await client.get("/v1/events", params={"agency": "acme", "limit": 1000})
            return len(resp.json()["items"]) >= GOOD

        await until(all_stored, "the 100 valid events are stored")
        await until(lambda: _any(dead_letters(bus)), "the bad event is dead-lettered")
        listed = await client.get("/v1/events", params={"agency": "acme", "limit": 1000})
    assert {e["event_id"] for e in listed.json()["items"]} == {f"d-{n}" for n in range(GOOD)}
    [dead] = await dead_letters(bus)
    assert _header(dead, "Cortex-Dlq-Item") == f"{envelope.id}/{BAD_AT}"
    reason = _header(dead, "Cortex-Dlq-Reason")
    assert reason.startswith(f"deployment 'x\\x00y' ({envelope.id}/{BAD_AT}): id contains a NUL")
    assert _header(dead, "Cortex-Dlq-Consumer") == "metrics-collector-delivery"


async def _any(pending: Awaitable[list[RawStreamMsg]]) -> bool:
    return bool(await pending)


# The collector's own consumer, run by hand on a migrated database so that one message can be
# delivered twice on purpose.


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    await upgrade_to_head(database, Path(metrics_collector.__file__).parent / "migrations", SCHEMA)
    yield database
    await database.dispose()


@pytest.fixture
async def runner(db: Database, bus: Bus) -> ConsumerRunner:
    # Only the consumer settings matter here (no process is configured from them).
    settings = Settings.model_construct(consumer_ack_wait_s=1.0)
    spec = delivery_consumer(settings, name=CONSUMER)
    consumer = ConsumerRunner(db, bus, messaging.inbox, spec, service="metrics-collector")
    await consumer.declare()
    return consumer


async def fetch_one(bus: Bus) -> Msg:
    sub = await bus.js.pull_subscribe_bind(CONSUMER, stream="CORTEX_DELIVERY")
    try:
        [msg] = await sub.fetch(1, timeout=10)
    finally:
        await sub.unsubscribe()
    return msg


async def stored(db: Database) -> tuple[int, int, int]:
    """(merged facts, versions, the largest number of versions of one fact)."""
    async with db.session() as session:
        facts = await session.scalar(select(func.count()).select_from(delivery_events))
        versions = await session.scalar(select(func.count()).select_from(delivery_fact_versions))
        most = await session.scalar(select(func.max(delivery_events.c.versions)))
    return int(facts or 0), int(versions or 0), int(most or 0)


async def test_a_redelivered_poisoned_batch_is_stored_once_and_dead_lettered_once(
    db: Database, bus: Bus, runner: ConsumerRunner
) -> None:
    envelope = poisoned_batch("x\x00y")
    await publish(bus, envelope)
    late = await fetch_one(bus)
    again = await fetch_one(bus)  # not acked within ack_wait: delivered a second time
    assert again.metadata.num_delivered == 2
    await asyncio.gather(runner.process([late]), runner.process([again]))

    assert await stored(db) == (GOOD, GOOD, 1)
    [dead] = await dead_letters(bus, CONSUMER)
    assert _header(dead, "Cortex-Dlq-Item") == f"{envelope.id}/{BAD_AT}"
    assert dead.data == encode(envelope)
    info = await bus.js.consumer_info("CORTEX_DELIVERY", CONSUMER)
    assert info.num_ack_pending == 0  # the message itself is acked, not retried


async def test_an_event_the_database_refuses_is_dead_lettered_alone(
    db: Database, bus: Bus, runner: ConsumerRunner
) -> None:
    # Passes every check at decoding; PostgreSQL refuses it (too long for the id's index).
    envelope = poisoned_batch(secrets.token_hex(6000))
    await publish(bus, envelope)
    await runner.process([await fetch_one(bus)])

    assert await stored(db) == (GOOD, GOOD, 1)
    [dead] = await dead_letters(bus, CONSUMER)
    assert _header(dead, "Cortex-Dlq-Item") == f"{envelope.id}/{BAD_AT}"
    reason = _header(dead, "Cortex-Dlq-Reason")
    assert reason.startswith(
        f"deployment '{envelope_bad_id(envelope)[:100]}'... (12000 characters)"
    )
    assert "not stored: ProgramLimitExceededError: index row" in reason
