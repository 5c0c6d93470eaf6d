"""Alembic per service on a real PostgreSQL: replicas starting together both reach head."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import metrics_collector
from cortex_kit.db import Database
from cortex_kit.migrations import pending_migrations, upgrade_to_head

MIGRATIONS = Path(metrics_collector.__file__).parent / "migrations"
SCHEMA = "metrics"


@pytest.fixture
async def replicas(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    first, second = Database(database_url, pool_size=2), Database(database_url, pool_size=2)
    yield first, second
    await first.dispose()
    await second.dispose()


async def test_fresh_database_reports_pending_migrations(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    try:
        reason = await pending_migrations(db, MIGRATIONS, SCHEMA)
    finally:
        await db.dispose()
    assert reason is not None
    assert "nothing" in reason


async def test_replicas_upgrading_concurrently_both_reach_head(
    replicas: tuple[Database, Database],
) -> None:
    await asyncio.gather(*(upgrade_to_head(db, MIGRATIONS, SCHEMA) for db in replicas))

    for db in replicas:
        assert await pending_migrations(db, MIGRATIONS, SCHEMA) is None
