"""Fixtures for the kit's messaging tests: a schema `t`, a stream `T` and a dead-letter stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import get_args

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import Column, Identity, Integer, MetaData, Table, Text, func, select, text

from cortex_contracts import ChangeRecorded, Envelope, encode, pack
from cortex_kit.db import Database
from cortex_kit.messaging.bus import MSG_ID_HEADER, Bus, OutgoingMessage
from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox
from cortex_kit.messaging.tables import messaging_tables
from cortex_kit.messaging.transport import TransportName

SCHEMA = "t"
metadata = MetaData(schema=SCHEMA)
tables = messaging_tables(metadata)
# No unique key on msg_id: a message applied twice shows up as two rows.
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, Identity(always=True), primary_key=True),
    Column("msg_id", Text, nullable=False),
    Column("delivery", Integer, nullable=False),
)


@dataclass(frozen=True)
class Stream:
    name: str
    subjects: tuple[str, ...]
    max_age_s: float = 3600.0
    duplicate_window_s: float = 120.0


EVENTS = Stream("T", ("t.>",))
DEAD_LETTERS = Stream("T_DLQ", ("cortex.dlq.>",))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    async with database.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture(params=get_args(TransportName))
def transport(request: pytest.FixtureRequest) -> TransportName:
    """Each bus and consumer test runs on both JetStream transports."""
    name: TransportName = request.param
    return name


@pytest.fixture
async def bus(nats_url: str, transport: TransportName) -> AsyncIterator[Bus]:
    connected = await connect_bus(nats_url, transport)
    yield connected
    await connected.close()


async def connect_bus(url: str, transport: TransportName) -> Bus:
    bus = Bus(url, name=f"kit-test-{uuid.uuid4().hex[:8]}", transport=transport)
    await bus.connect(wait_s=10)
    await bus.ensure_streams([EVENTS, DEAD_LETTERS])
    return bus


def change_event(n: int = 0) -> Envelope:
    payload = ChangeRecorded(event_id=f"c-{n}", commit_sha=f"{n:040x}", repo="r", service="s")
    return pack(payload, agency="acme", source="kit-test")


async def stage(db: Database, *envelopes: Envelope) -> None:
    """Commit one transaction that stages `envelopes` in the outbox."""
    async with db.session() as session:
        await add_to_outbox(
            session, tables.outbox, [PendingEvent("t.change", e) for e in envelopes]
        )


async def publish(bus: Bus, *envelopes: Envelope) -> None:
    """Publish straight to the stream, as the outbox relay would."""
    acked = await bus.publish_batch(
        [OutgoingMessage("t.change", encode(e), e.id, {}) for e in envelopes]
    )
    assert all(acked)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 15.0
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting until {what}")
        await asyncio.sleep(0.05)


def holds(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check


async def stream_count(bus: Bus, stream: str = EVENTS.name) -> int:
    return int((await bus.js.stream_info(stream)).state.messages)


async def stream_msg_ids(bus: Bus, stream: str = EVENTS.name) -> list[str]:
    """`Nats-Msg-Id` of every message in `stream`, in stream order."""
    expected = await stream_count(bus, stream)
    sub = await bus.js.pull_subscribe(
        ">", stream=stream, config=ConsumerConfig(ack_policy=AckPolicy.NONE)
    )
    ids: list[str] = []
    try:
        while len(ids) < expected:
            msgs = await sub.fetch(1000, timeout=5)
            ids += [(m.headers or {}).get(MSG_ID_HEADER, "") for m in msgs]
    finally:
        await sub.unsubscribe()
    return ids


async def count_rows(db: Database, table: Table) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def effect_deliveries(db: Database) -> dict[str, list[int]]:
    """For each message id, the delivery numbers whose effect was committed."""
    async with db.session() as session:
        rows = (await session.execute(select(effects.c.msg_id, effects.c.delivery))).all()
    found: dict[str, list[int]] = {}
    for msg_id, delivery in rows:
        found.setdefault(msg_id, []).append(delivery)
    return found
