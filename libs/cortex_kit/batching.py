"""Write-behind batching for work that must stay off a hot path (e.g. a decision log)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from cortex_kit.logs import get_logger

T = TypeVar("T")
log = get_logger("cortex.batching")


class BatchWriter(Generic[T]):
    """Collects items and flushes them in batches (size or delay, whichever comes first).

    ``submit`` never blocks the caller unless the queue is full (back-pressure at ``max_queue``).
    A failed flush is retried with backoff, keeping its items; ``stop`` flushes what is left.
    Items still queued when the process is killed are lost: use it only where the issue allows
    an asynchronous write (and say so in the docs).
    """

    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[None]],
        *,
        name: str,
        max_batch: int = 500,
        max_delay_s: float = 0.1,
        max_queue: int = 100_000,
    ) -> None:
        self._flush = flush
        self.name = name
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self._queue: asyncio.Queue[T] = asyncio.Queue(max_queue)
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.flushed = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"batch-writer-{self.name}")

    async def submit(self, item: T) -> None:
        await self._queue.put(item)
        if self._queue.qsize() >= self.max_batch - 1:
            self._full.set()  # with the one the writer holds, a full batch

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _next_batch(self) -> list[T]:
        """The first item, then whatever is queued once ``max_batch`` are or ``max_delay_s`` has
        passed. Items wait in the queue meanwhile: taking each one as it comes (``wait_for``
        around ``get``) cost a task and a timer per item on the caller's event loop."""
        first = await self._queue.get()
        if self._queue.qsize() < self.max_batch - 1:
            self._full.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.max_delay_s)
        more = min(self.max_batch - 1, self._queue.qsize())
        return [first, *(self._queue.get_nowait() for _ in range(more))]

    async def _write(self, batch: list[T]) -> None:
        backoff = 0.1
        while True:
            try:
                await self._flush(batch)
                self.flushed += len(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("batch.flush_failed", writer=self.name, size=len(batch), error=str(exc))
                await asyncio.sleep(backoff)
                backoff = min(5.0, backoff * 2)

    async def _run(self) -> None:
        while True:
            await self._write(await self._next_batch())

    async def drain(self) -> None:
        """Flush everything queued now (used at shutdown and by tests)."""
        while not self._queue.empty():
            batch = [
                self._queue.get_nowait() for _ in range(min(self.max_batch, self._queue.qsize()))
            ]
            await self._write(batch)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.drain()
