"""The collector's delivery handler fed typed messages (cortex_kit.testing.handlers): no NATS,
a real migrated PostgreSQL — what one batch stores, dead-letters and announces."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import metrics_collector
from cortex_contracts import (
    ChangeRecorded,
    DeliveryBatch,
    DeliveryEvent,
    DeploymentRecorded,
    Envelope,
    encode,
    pack,
)
from cortex_kit.db import Database
from cortex_kit.messaging.handlers import Undecodable
from cortex_kit.migrations import upgrade_to_head
from cortex_kit.testing.handlers import received, run_handler
from metrics_collector.events.consumers import delivery_consumer
from metrics_collector.models import SCHEMA, delivery_events
from metrics_collector.settings import Settings

SETTINGS = Settings.model_construct()  # only the consumer settings are read


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    await upgrade_to_head(database, Path(metrics_collector.__file__).parent / "migrations", SCHEMA)
    yield database
    await database.dispose()


def deployments(agency: str, *ids: str) -> Envelope:
    events = [
        DeliveryEvent(deployment=DeploymentRecorded(deployment_id=i, service="checkout"))
        for i in ids
    ]
    return pack(DeliveryBatch(events=events), agency=agency, source="gateway")


async def stored_ids(db: Database) -> set[str]:
    async with db.session() as session:
        return set((await session.scalars(select(delivery_events.c.event_id))).all())


async def test_a_batch_stores_every_event_and_announces_its_agencies_after_the_commit(
    db: Database,
) -> None:
    told: list[set[str]] = []
    spec = delivery_consumer(SETTINGS, told.append)
    acme, globex = deployments("acme", "d-1", "d-2"), deployments("globex", "d-3")
    messages = [received(spec, encode(e), id=e.id) for e in (acme, globex)]
    async with db.session() as session:
        dead = await run_handler(spec, messages, session)
        assert told == []  # not before the commit
    assert dead == []
    assert told == [{"acme", "globex"}]
    assert await stored_ids(db) == {"d-1", "d-2", "d-3"}


async def test_a_rolled_back_batch_announces_nothing(db: Database) -> None:
    told: list[set[str]] = []
    spec = delivery_consumer(SETTINGS, told.append)
    envelope = deployments("acme", "d-1")
    async with db.engine.connect() as conn:
        session = AsyncSession(conn)
        await run_handler(spec, [received(spec, encode(envelope))], session)
        await session.rollback()  # e.g. the batch's dead letters could not be published
        await session.close()
    assert told == []
    assert await stored_ids(db) == set()


async def test_an_event_refused_at_decoding_is_dead_lettered_alone(db: Database) -> None:
    spec = delivery_consumer(SETTINGS)
    envelope = deployments("acme", "d-0", "x\x00y", "d-2")
    async with db.session() as session:
        [dead] = await run_handler(
            spec, [received(spec, encode(envelope), id=envelope.id)], session
        )
    assert (dead.msg_id, dead.item) == (envelope.id, f"{envelope.id}/1")
    assert dead.reason.startswith(f"deployment 'x\\x00y' ({envelope.id}/1): id contains a NUL")
    assert await stored_ids(db) == {"d-0", "d-2"}


async def test_an_event_the_database_refuses_is_dead_lettered_alone(db: Database) -> None:
    spec = delivery_consumer(SETTINGS)
    too_long = secrets.token_hex(6000)  # passes decoding; too long for the id's index
    envelope = deployments("acme", "d-0", too_long)
    async with db.session() as session:
        [dead] = await run_handler(
            spec, [received(spec, encode(envelope), id=envelope.id)], session
        )
    assert dead.item == f"{envelope.id}/1"
    assert "not stored: ProgramLimitExceededError" in dead.reason
    assert await stored_ids(db) == {"d-0"}


async def test_the_same_message_twice_in_a_batch_is_handled_once(db: Database) -> None:
    spec = delivery_consumer(SETTINGS)
    envelope = pack(ChangeRecorded(event_id="c-1", commit_sha="a" * 40), agency="acme", source="g")
    message = received(spec, encode(envelope), id=envelope.id)
    async with db.session() as session:
        await run_handler(spec, [message, message], session)
    async with db.session() as session:
        versions = await session.scalar(select(func.max(delivery_events.c.versions)))
    assert versions == 1


def test_an_envelope_that_is_not_one_is_undecodable() -> None:
    spec = delivery_consumer(SETTINGS)
    with pytest.raises(Undecodable):
        received(spec, b"\x00\x01 not protobuf")
