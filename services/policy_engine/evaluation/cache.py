"""Compiled policies in memory, per (agency, team); dropped when a new version is published.

Every replica listens to ``cortex.policy.published.*`` (``PolicyCache.notices``: a broadcast,
since each replica must see every publication) and drops the affected entries;
the next request recompiles from PostgreSQL. Entries older than ``max_age_s`` are refreshed in
the background (the request is answered from the current entry), which bounds staleness should
a notification ever be missed.

Bounded: the (agency, team) keys come from requests, so at most ``max_entries`` compiled
policies are kept, the least recently used dropped first (its next request compiles it again).
The per-key locks that make one compile per key exist only while some load of that key runs or
waits: each is dropped when its last user leaves, so they are bounded by the loads in flight,
and a lock in use is never dropped (which would let a second load of that key start beside it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cachetools import LRUCache

from cortex_contracts import decode, subject_filter
from cortex_kit.logs import get_logger
from cortex_kit.messaging.broadcast import Broadcast
from cortex_kit.messaging.handlers import Message
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.policies.service import ORG_AGENCY

log = get_logger("policy_engine.cache")
Key = tuple[str, str | None]
Loader = Callable[[str, str | None], Awaitable[tuple[CompiledPolicy, str] | None]]
MAX_POLICIES = 10_000
"""Compiled policies kept (one per agency and team asked for lately)."""


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


@dataclass
class _KeyLock:
    """The lock of one key's loads, with how many loads hold it or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class PolicyCache:
    def __init__(
        self, loader: Loader, *, max_age_s: float = 30.0, max_entries: int = MAX_POLICIES
    ) -> None:
        self._loader = loader
        self._entries: LRUCache[Key, Entry] = LRUCache(max_entries)
        self._locks: dict[Key, _KeyLock] = {}  # only keys with a load in flight (see above)
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
        # No await between finding the lock and counting this load in: a lock with users
        # stays in the table, so every load of a key takes the same lock.
        held = self._locks.get(key)
        if held is None:
            held = self._locks[key] = _KeyLock()
        held.users += 1
        try:
            async with held.lock:  # one compile per key, however many requests wait
                entry = self._entries.get(key)
                if entry is None or force:
                    loaded = await self._loader(*key)
                    compiled, version = loaded if loaded else (None, "none")
                    entry = Entry(compiled, version, time.monotonic())
                    self._entries[key] = entry
                return entry
        finally:
            held.users -= 1
            if held.users == 0:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def loads_in_flight(self) -> int:
        """Keys with a load running or waiting (the size of the lock table)."""
        return len(self._locks)

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
