"""Compiled policies in memory, per (agency, team); dropped when a new version is published.

Every replica listens to ``cortex.policy.published.*`` (``PolicyCache.notices``: a broadcast,
since each replica must see every publication) and drops the affected entries;
the next request recompiles from PostgreSQL. Entries older than ``max_age_s`` are refreshed in
the background (the request is answered from the current entry), which bounds staleness should
a notification ever be missed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cortex_contracts import decode, subject_filter
from cortex_kit.logs import get_logger
from cortex_kit.messaging.broadcast import Broadcast
from cortex_kit.messaging.handlers import Message
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.policies.service import ORG_AGENCY

log = get_logger("policy_engine.cache")
Key = tuple[str, str | None]
Loader = Callable[[str, str | None], Awaitable[tuple[CompiledPolicy, str] | None]]


@dataclass(frozen=True)
class Published:
    """A policy version was published for ``agency`` (None: a notice too garbled to say whose)."""

    agency: str | None


def read_published(data: bytes) -> Published:
    try:
        return Published(decode(data).agency)
    except Exception:  # still news that some policy changed: the handler drops everything
        return Published(None)


@dataclass(frozen=True)
class Entry:
    compiled: CompiledPolicy | None
    version: str
    loaded_at: float


class PolicyCache:
    def __init__(self, loader: Loader, *, max_age_s: float = 30.0) -> None:
        self._loader = loader
        self._entries: dict[Key, Entry] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self.max_age_s = max_age_s
        self._refreshing: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.invalidations = 0

    async def get(self, agency: str, team: str | None) -> Entry:
        key = (agency, team)
        entry = self._entries.get(key)
        if entry is None:
            return await self._load(key)
        if time.monotonic() - entry.loaded_at >= self.max_age_s and key not in self._refreshing:
            # Stale: answer from it now, refresh off the request path.
            self._refreshing.add(key)
            task = asyncio.create_task(self._refresh(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return entry

    async def _refresh(self, key: Key) -> None:
        try:
            await self._load(key, force=True)
        except Exception as exc:  # keep serving the current entry; the next request retries
            log.warning("policy.cache_refresh_failed", agency=key[0], error=str(exc))
        finally:
            self._refreshing.discard(key)

    async def _load(self, key: Key, *, force: bool = False) -> Entry:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one compile per key, however many requests wait
            entry = self._entries.get(key)
            if entry is None or force:
                loaded = await self._loader(*key)
                compiled, version = loaded if loaded else (None, "none")
                entry = Entry(compiled, version, time.monotonic())
                self._entries[key] = entry
            return entry

    def invalidate(self, agency: str) -> None:
        self.invalidations += 1
        if agency == ORG_AGENCY:
            self._entries.clear()
        else:
            for key in [k for k in self._entries if k[0] == agency]:
                del self._entries[key]

    def notices(self) -> Broadcast[Published]:
        """Publications of policy versions, to be heard by every replica."""
        return Broadcast(
            "policy-cache", subject_filter("policy", "published"), read_published, self.published
        )

    async def published(self, message: Message[Published]) -> None:
        agency = message.payload.agency
        if agency is None:  # a garbled notification: drop everything, to be safe
            self._entries.clear()
            return
        self.invalidate(agency)
        log.info("policy.cache_invalidated", agency=agency)
