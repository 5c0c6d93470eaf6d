"""Long-poll: requests waiting for an agent's desired revision to change, woken in this process
after the commit that changed it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

Key = tuple[str, str]  # (agency, agent id)


class Waiters:
    """Futures of the requests waiting per agent. Bounded: an entry lives only while its
    request waits, and at most ``max_waiters`` wait at once (``register`` answers None beyond
    that, and the request is answered at once)."""

    def __init__(self, max_waiters: int) -> None:
        self._max = max_waiters
        self._count = 0
        self._waiting: dict[Key, set[asyncio.Future[None]]] = {}

    def register(self, key: Key) -> asyncio.Future[None] | None:
        if self._count >= self._max:
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, set()).add(future)
        self._count += 1
        return future

    def release(self, key: Key, future: asyncio.Future[None]) -> None:
        group = self._waiting.get(key)
        if group is None or future not in group:
            return
        group.discard(future)
        self._count -= 1
        if not group:
            del self._waiting[key]

    async def wait(self, future: asyncio.Future[None], timeout_s: float) -> bool:
        """Whether ``future`` was woken within ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(future), timeout_s)
        return future.done()

    def wake(self, keys: Iterable[Key]) -> None:
        for key in keys:
            for future in self._waiting.get(key, ()):
                if not future.done():
                    future.set_result(None)

    def wake_agency(self, agency: str) -> None:
        """Wake every waiter of the agency (each reads its agent again): a change committed by
        another replica, heard on the bus, without its list of agents."""
        self.wake([key for key in self._waiting if key[0] == agency])

    def count(self) -> int:
        return self._count
