"""The kit's pytest plugin: real PostgreSQL and NATS, a fresh database and a clean JetStream."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg
import nats
import psutil
import pytest
from nats.errors import NoServersError

from cortex_kit.embedded import EmbeddedNats, EmbeddedPostgres
from cortex_kit.testing.plugin import delete_all_streams


def asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def test_database_url_is_an_empty_working_database(database_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        await conn.execute("CREATE TABLE deployments (id int PRIMARY KEY, service text)")
        await conn.execute("INSERT INTO deployments VALUES (1, 'checkout')")

        assert tables == []
        assert await conn.fetchval("SELECT service FROM deployments WHERE id = 1") == "checkout"
    finally:
        await conn.close()


async def test_nats_url_serves_jetstream(nats_url: str) -> None:
    client = await nats.connect(nats_url)
    try:
        jetstream = client.jetstream()
        await jetstream.add_stream(name="EVENTS", subjects=["events.>"])
        ack = await jetstream.publish("events.created", b"{}")
        assert (ack.stream, ack.seq) == ("EVENTS", 1)
    finally:
        await client.close()


async def test_delete_all_streams_works_inside_a_running_loop(nats_url: str) -> None:
    client = await nats.connect(nats_url)
    try:
        jetstream = client.jetstream()
        for name in ("ONE", "TWO"):
            await jetstream.add_stream(name=name, subjects=[f"{name.lower()}.>"])

        delete_all_streams(nats_url)

        assert await jetstream.streams_info() == []
    finally:
        await client.close()


async def test_nats_outage_refuses_clients_until_it_ends(cortex_nats: EmbeddedNats) -> None:
    with cortex_nats.outage(), pytest.raises(NoServersError):
        await nats.connect(
            cortex_nats.url, connect_timeout=1, max_reconnect_attempts=1, reconnect_time_wait=0
        )

    client = await nats.connect(cortex_nats.url)
    await client.close()


INNER_TESTS = """
import asyncio, json, os
import asyncpg, nats, psutil

RECORD = {record!r}

def record(**facts):
    with open(RECORD, "a") as out:
        out.write(json.dumps(facts) + "\\n")

def dsn(url):
    return url.replace("postgresql+asyncpg://", "postgresql://")

async def sql(url, *statements):
    conn = await asyncpg.connect(dsn(url))
    try:
        return [await conn.fetch(s) for s in statements]
    finally:
        await conn.close()

async def stream_names(url):
    client = await nats.connect(url)
    try:
        return [s.config.name for s in await client.jetstream().streams_info()]
    finally:
        await client.close()

async def add_stream(url):
    client = await nats.connect(url)
    try:
        await client.jetstream().add_stream(name="LEFTOVER", subjects=["leftover.>"])
    finally:
        await client.close()

def test_0_servers_start_only_when_asked():
    assert psutil.Process().children() == []

def test_1_leaves_a_table_a_stream_and_an_outage(
    database_url, nats_url, cortex_postgres, cortex_nats, cortex_runtime_dir
):
    asyncio.run(sql(database_url, "CREATE TABLE leftover (id int)"))
    asyncio.run(add_stream(nats_url))
    record(database_url=database_url, pids=[cortex_postgres.pid, cortex_nats.pid],
           runtime_dir=str(cortex_runtime_dir))
    cortex_nats.stop()

def test_2_starts_clean(database_url, nats_url, cortex_nats):
    tables, databases = asyncio.run(sql(
        database_url,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        "SELECT datname FROM pg_database WHERE datname LIKE 't\\\\_%'",
    ))
    record(database_url=database_url, tables=[r[0] for r in tables],
           databases=[r[0] for r in databases], streams=asyncio.run(stream_names(nats_url)),
           nats_running=cortex_nats.is_running())
"""


def test_plugin_session_isolates_tests_and_cleans_up(tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS.format(record=str(record))))

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    first, second = (json.loads(line) for line in record.read_text().splitlines())
    first_database = first["database_url"].rsplit("/", 1)[1]
    assert second["database_url"] != first["database_url"]
    assert second["tables"] == []
    assert first_database not in second["databases"]
    assert second["streams"] == []
    assert second["nats_running"] is True
    assert not any(psutil.pid_exists(pid) for pid in first["pids"])
    assert not Path(first["runtime_dir"]).exists()


async def test_migrated_database_url_is_a_private_copy_of_every_schema_at_head(
    migrated_database_url: str, cortex_database_template: str, cortex_postgres: EmbeddedPostgres
) -> None:
    from cortex_kit.db import Database
    from cortex_kit.migrations import pending_migrations

    from .conftest import _migrations

    db = Database(migrated_database_url, pool_size=1)
    try:
        pending = [await pending_migrations(db, path, schema) for path, schema in _migrations()]
    finally:
        await db.dispose()
    copy = await asyncpg.connect(asyncpg_dsn(migrated_database_url))
    try:
        await copy.execute("CREATE TABLE gateway.written_by_this_test (id int)")
    finally:
        await copy.close()
    template = await asyncpg.connect(asyncpg_dsn(cortex_postgres.url(cortex_database_template)))
    try:
        in_template = await template.fetchval("SELECT to_regclass('gateway.written_by_this_test')")
    finally:
        await template.close()

    assert len(pending) == 5
    assert pending == [None] * 5
    assert in_template is None
