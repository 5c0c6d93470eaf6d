from __future__ import annotations

import asyncio
from collections.abc import Sequence

from cortex_kit.batching import BatchWriter


async def test_items_are_flushed_in_batches_of_at_most_max_batch() -> None:
    batches: list[list[int]] = []

    async def flush(items: Sequence[int]) -> None:
        batches.append(list(items))

    writer = BatchWriter(flush, name="t", max_batch=10, max_delay_s=0.05)
    writer.start()
    for i in range(35):
        await writer.submit(i)
    await writer.stop()
    assert [i for b in batches for i in b] == list(range(35))
    assert max(len(b) for b in batches) <= 10


async def test_a_lone_item_is_flushed_after_the_delay() -> None:
    flushed = asyncio.Event()

    async def flush(items: Sequence[int]) -> None:
        flushed.set()

    writer = BatchWriter(flush, name="t", max_batch=100, max_delay_s=0.02)
    writer.start()
    await writer.submit(1)
    await asyncio.wait_for(flushed.wait(), 2)
    await writer.stop()


async def test_a_failed_flush_is_retried_without_losing_items() -> None:
    seen: list[int] = []
    failures = [True, True]

    async def flush(items: Sequence[int]) -> None:
        if failures:
            failures.pop()
            raise ConnectionError("db down")
        seen.extend(items)

    writer = BatchWriter(flush, name="t", max_batch=5, max_delay_s=0.01)
    writer.start()
    for i in range(5):
        await writer.submit(i)
    for _ in range(200):
        if len(seen) == 5:
            break
        await asyncio.sleep(0.01)
    await writer.stop()
    assert seen == [0, 1, 2, 3, 4]


async def test_a_full_batch_is_flushed_without_waiting_for_the_delay() -> None:
    batches: list[list[int]] = []
    flushed = asyncio.Event()

    async def flush(items: Sequence[int]) -> None:
        batches.append(list(items))
        flushed.set()

    writer = BatchWriter(flush, name="t", max_batch=4, max_delay_s=3600)
    writer.start()
    for i in range(4):
        await writer.submit(i)
    await asyncio.wait_for(flushed.wait(), 5)
    await writer.stop()
    assert batches == [[0, 1, 2, 3]]
