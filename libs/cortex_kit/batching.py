"""Batched writes: group commit (``write`` waits for the batch's commit) or write-behind
(``submit`` returns at once) — e.g. a decision log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from cortex_kit.logs import get_logger

T = TypeVar("T")
log = get_logger("cortex.batching")

_Entry = tuple[T, "asyncio.Future[None] | None"]


class BatchWriteFailed(Exception):
    """The batch holding an item written with ``BatchWriter.write`` was not committed."""


class BatchWriter(Generic[T]):
    """Collects items and flushes them in batches, one ``flush`` call (a transaction) each.

    Two ways in, which may be mixed:

    - ``write(item)`` returns once the batch holding the item is flushed, and raises
      ``BatchWriteFailed`` if that flush failed (the item is then dropped, not retried: its
      caller was told). A batch that starts with such an item is flushed at once with whatever
      else is queued — classic group commit: items that arrive during a flush share the next
      one, so concurrent callers share a transaction without a fixed delay.
    - ``submit(item)`` returns once the item is queued (write-behind). Such a batch waits up
      to ``max_delay_s`` to fill; a failed flush is retried with backoff, keeping its items.
      Items still queued when the process is killed are lost: use it only where an
      asynchronous write is allowed (and say so in the docs).

    ``max_queue`` bounds the queue (back-pressure); ``stop`` flushes what is left.
    """

    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[None]],
        *,
        name: str,
        max_batch: int = 500,
        max_delay_s: float = 0.1,
        max_queue: int = 100_000,
        flush_timeout_s: float = 10.0,
    ) -> None:
        self._flush = flush
        self.name = name
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.flush_timeout_s = flush_timeout_s
        """How long a flush with waiting callers may take before they are failed."""
        self._queue: asyncio.Queue[_Entry[T]] = asyncio.Queue(max_queue)
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: list[_Entry[T]] = []
        self.flushed = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"batch-writer-{self.name}")

    async def submit(self, item: T) -> None:
        """Queue ``item`` (write-behind): it is written later, retried until it is."""
        await self._put((item, None))

    async def write(self, item: T) -> None:
        """Write ``item`` in the next batch and return once that batch is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._put((item, done))
        await done

    async def _put(self, entry: _Entry[T]) -> None:
        await self._queue.put(entry)
        if self._queue.qsize() >= self.max_batch - 1:
            self._full.set()  # with the one the writer holds, a full batch

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _next_batch(self) -> list[_Entry[T]]:
        """The first entry, then whatever is queued: at once when a caller waits on the first,
        else once ``max_batch`` are or ``max_delay_s`` has passed. Entries wait in the queue
        meanwhile: taking each one as it comes (``wait_for`` around ``get``) cost a task and a
        timer per item on the caller's event loop."""
        first = await self._queue.get()
        self._in_flight = [first]  # kept for ``drain`` should the writer stop while it waits
        if first[1] is None and self._queue.qsize() < self.max_batch - 1:
            self._full.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.max_delay_s)
        more = min(self.max_batch - 1, self._queue.qsize())
        return [first, *(self._queue.get_nowait() for _ in range(more))]

    async def _write(self, batch: list[_Entry[T]]) -> None:
        backoff = 0.1
        while batch:
            waited = any(done is not None for _, done in batch)
            try:
                async with asyncio.timeout(self.flush_timeout_s if waited else None):
                    await self._flush([item for item, _ in batch])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("batch.flush_failed", writer=self.name, size=len(batch), error=str(exc))
                batch = _fail_waiters(batch, exc)
                if batch:
                    await asyncio.sleep(backoff)
                    backoff = min(5.0, backoff * 2)
            else:
                self.flushed += len(batch)
                _resolve_waiters(batch)
                return

    async def _run(self) -> None:
        while True:
            self._in_flight = await self._next_batch()
            await self._write(self._in_flight)
            self._in_flight = []

    async def drain(self) -> None:
        """Flush everything queued now (used at shutdown and by tests)."""
        if self._in_flight:  # the writer was stopped mid-flush: that batch is written again
            batch, self._in_flight = self._in_flight, []
            await self._write(batch)
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


def _resolve_waiters(batch: Sequence[_Entry[T]]) -> None:
    for _, done in batch:
        if done is not None and not done.done():
            done.set_result(None)


def _fail_waiters(batch: Sequence[_Entry[T]], exc: Exception) -> list[_Entry[T]]:
    """Fail the callers waiting on this batch; what is left to retry (the write-behind items)."""
    failure = BatchWriteFailed(f"{type(exc).__name__}: {exc}")
    failure.__cause__ = exc
    for _, done in batch:
        if done is not None and not done.done():
            done.set_exception(failure)
    return [entry for entry in batch if entry[1] is None]
