"""Async SQLAlchemy engine per process and a session scope that commits or rolls back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from enum import Enum
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# A pooled connection idle longer than this is pinged before use; one used more recently is
# only checked for having been closed (by a server restart, a terminated backend).
PING_AFTER_IDLE_S = 10.0
_CHECKED_IN_AT = "cortex_checked_in_at"


def _on_checkin(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _on_checkout(
    dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """A cheaper ``pool_pre_ping``, which costs three round trips (BEGIN, ``;``, ROLLBACK) per
    checkout, i.e. per transaction. Raising ``DisconnectionError`` makes the pool discard the
    connection and check out another, exactly as a failed pre-ping does."""
    driver: Any = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if callable(is_closed) and is_closed():
        raise exc.DisconnectionError("connection closed by the server")
    checked_in_at = record.info.get(_CHECKED_IN_AT)
    if callable(is_closed) and (
        checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_S
    ):
        return  # new, or recently used and still open
    try:
        ping: Any = dbapi_connection.ping
        ping()
    except Exception as error:
        raise exc.DisconnectionError(f"connection failed its ping: {error}") from error


class Database:
    """Owns one engine; ``session()`` is the unit of work of a request or a message batch.

    Services only ``flush()``; the scope commits on success and rolls back on error. Callbacks
    registered with ``on_commit`` run after a successful commit (e.g. to wake the outbox relay).
    """

    def __init__(self, url: str, *, pool_size: int = 10, application_name: str = "cortex") -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"server_settings": {"application_name": application_name}},
        )
        event.listen(self.engine.sync_engine, "checkin", _on_checkin)
        event.listen(self.engine.sync_engine, "checkout", _on_checkout)
        # A Session subclass of our own so commit hooks fire for this database only.
        sync_session_class = type("CortexSession", (Session,), {})
        event.listen(sync_session_class, "after_commit", self._after_commit)
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=sync_session_class
        )
        self._commit_hooks: list[Callable[[Session], None]] = []

    def on_commit(self, hook: Callable[[Session], None]) -> None:
        """Run ``hook(session)`` after each commit; ``session.info`` says what it did."""
        self._commit_hooks.append(hook)

    def _after_commit(self, session: Session) -> None:
        for hook in self._commit_hooks:
            hook(session)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> str | None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None

    async def dispose(self) -> None:
        await self.engine.dispose()


async def driver_connection(source: AsyncSession | AsyncConnection) -> Any:
    """The asyncpg connection under a session or connection, inside its transaction.

    For the few hot paths where SQLAlchemy's per-row work costs more than the statement (bulk
    inserts of thousands of rows as arrays with ``unnest``, streaming millions of rows):
    statements run on it belong to that transaction and commit or roll back with it.
    """
    connection = await source.connection() if isinstance(source, AsyncSession) else source
    raw = await connection.get_raw_connection()
    return raw.driver_connection


class DbFailure(Enum):
    """What a database error means for the caller."""

    UNAVAILABLE = "unavailable"  # outage, restart, conflict: retry shortly, nothing was stored
    INVALID_INPUT = "invalid_input"  # a value the store cannot hold (NUL, out of range)


# SQLSTATE classes (https://www.postgresql.org/docs/current/errcodes-appendix.html):
# 08 connection exception, 40 transaction rollback (serialization failure, deadlock),
# 53 insufficient resources, 57 operator intervention (shutdown, cannot connect now),
# 58 system error; 22 data exception (e.g. 22021 NUL in text, 22003 numeric out of range).
_UNAVAILABLE_CLASSES = ("08", "40", "53", "57", "58")
_INVALID_INPUT_CLASSES = ("22",)
_UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # refused / reset connections, also asyncpg's connection errors
    TimeoutError,
    exc.TimeoutError,  # the pool had no connection to give
    exc.DisconnectionError,
)
_DRIVER_UNAVAILABLE = ("ConnectionDoesNotExistError", "InterfaceError", "InternalClientError")


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__


def classify_db_error(error: BaseException) -> DbFailure | None:
    """Whether ``error`` (from SQLAlchemy or straight from asyncpg) is a database outage, input
    the database refused, or neither (a bug). Walks the exception's causes."""
    for link in _chain(error):
        sqlstate = getattr(link, "sqlstate", None)
        if isinstance(sqlstate, str) and len(sqlstate) == 5:
            if sqlstate.startswith(_UNAVAILABLE_CLASSES):
                return DbFailure.UNAVAILABLE
            if sqlstate.startswith(_INVALID_INPUT_CLASSES):
                return DbFailure.INVALID_INPUT
        if isinstance(link, exc.DBAPIError) and link.connection_invalidated:
            return DbFailure.UNAVAILABLE
        if isinstance(link, _UNAVAILABLE_TYPES):
            return DbFailure.UNAVAILABLE
        module = type(link).__module__
        if module.startswith("asyncpg"):
            if type(link).__name__ == "DataError":  # client-side encoding of an argument
                return DbFailure.INVALID_INPUT
            if type(link).__name__ in _DRIVER_UNAVAILABLE:
                return DbFailure.UNAVAILABLE
    return None
