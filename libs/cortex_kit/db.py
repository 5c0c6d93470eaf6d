"""Async SQLAlchemy engine per process and a session scope that commits or rolls back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session


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
            pool_pre_ping=True,
            connect_args={"server_settings": {"application_name": application_name}},
        )
        # A Session subclass of our own so commit hooks fire for this database only.
        sync_session_class = type("CortexSession", (Session,), {})
        event.listen(sync_session_class, "after_commit", self._after_commit)
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=sync_session_class
        )
        self._commit_hooks: list[Callable[[], None]] = []

    def on_commit(self, hook: Callable[[], None]) -> None:
        self._commit_hooks.append(hook)

    def _after_commit(self, session: object) -> None:
        for hook in self._commit_hooks:
            hook()

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
