"""cortex_kit.text's rule is PostgreSQL's: a string passes exactly when a text and a jsonb
value can hold it (as asyncpg sends them, and as JSON text the way the collector writes facts)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from cortex_kit.text import storable_problem

EDGES = ["", "plain", "x\x00y", "\x00", "\x01", "\n\t", "\x7f", "\x80", "é", "\u2028"]
EDGES += ["\ud800", "\udbff", "\udc00", "\udfff", "a\ud83d", "\ude00b", "\U0001f600", "\uffff"]
EDGES += ["\\u0000", '"\\"', "\U0010ffff"]


def _random_strings(count: int) -> list[str]:
    rng = random.Random(8)  # a fixed sample of all code points, surrogates and NUL included
    pool = [0, 0x1F, 0x7F, 0xD800, 0xDBFF, 0xDC00, 0xDFFF]
    return [
        "".join(
            chr(rng.choice(pool) if rng.random() < 0.2 else rng.randrange(0x110000))
            for _ in range(rng.randrange(1, 6))
        )
        for _ in range(count)
    ]


async def _postgres_holds(conn: asyncpg.Connection, value: str) -> bool:
    try:
        await conn.fetchval("SELECT $1::text", value)
        await conn.fetchval("SELECT $1::jsonb", json.dumps(value))
    except (asyncpg.PostgresError, asyncpg.DataError, UnicodeError):
        return False
    return True


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    yield connection
    await connection.close()


async def test_text_passes_exactly_when_postgresql_can_hold_it(conn: asyncpg.Connection) -> None:
    for value in EDGES + _random_strings(300):
        assert (storable_problem(value) is None) == await _postgres_holds(conn, value), ascii(value)
