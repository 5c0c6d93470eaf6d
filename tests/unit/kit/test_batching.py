from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from cortex_kit.batching import BatchWriteFailed, BatchWriter


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


# group commit: ``write`` waits for the batch's commit ------------------------------------------


async def test_write_returns_only_once_its_batch_is_flushed() -> None:
    release = asyncio.Event()
    flushed: list[int] = []

    async def flush(items: Sequence[int]) -> None:
        await release.wait()
        flushed.extend(items)

    writer = BatchWriter(flush, name="t", max_delay_s=3600)
    writer.start()
    writing = asyncio.create_task(writer.write(1))
    await asyncio.sleep(0.05)
    assert not writing.done()
    release.set()
    await asyncio.wait_for(writing, 2)
    assert flushed == [1]
    await writer.stop()


async def test_writes_arriving_during_a_flush_share_the_next_one() -> None:
    batches: list[list[int]] = []
    first_started = asyncio.Event()
    release = asyncio.Event()

    async def flush(items: Sequence[int]) -> None:
        batches.append(list(items))
        first_started.set()
        await release.wait()

    writer = BatchWriter(flush, name="t", max_delay_s=3600)
    writer.start()
    first = asyncio.create_task(writer.write(0))
    await asyncio.wait_for(first_started.wait(), 2)
    rest = [asyncio.create_task(writer.write(i)) for i in range(1, 21)]
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.wait_for(asyncio.gather(first, *rest), 2)
    assert batches == [[0], list(range(1, 21))]
    await writer.stop()


async def test_a_failed_flush_fails_its_writers_and_retries_only_submitted_items() -> None:
    calls: list[list[int]] = []

    async def flush(items: Sequence[int]) -> None:
        calls.append(list(items))
        if len(calls) == 1:
            raise ConnectionError("db down")

    writer = BatchWriter(flush, name="t", max_delay_s=0.01)
    await writer.submit(1)
    waiting = asyncio.create_task(writer.write(2))
    await asyncio.sleep(0)
    writer.start()
    with pytest.raises(BatchWriteFailed, match="db down"):
        await asyncio.wait_for(waiting, 2)
    for _ in range(100):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.02)
    await writer.stop()
    assert calls == [[1, 2], [1]]


async def test_a_flush_that_hangs_fails_its_writers_after_the_timeout() -> None:
    async def flush(items: Sequence[int]) -> None:
        await asyncio.sleep(3600)

    writer = BatchWriter(flush, name="t", flush_timeout_s=0.05)
    writer.start()
    with pytest.raises(BatchWriteFailed, match="TimeoutError"):
        await asyncio.wait_for(writer.write(1), 2)
    await writer.stop()


async def test_an_item_taken_while_its_batch_waits_to_fill_is_flushed_at_stop() -> None:
    flushed: list[int] = []

    async def flush(items: Sequence[int]) -> None:
        flushed.extend(items)

    writer = BatchWriter(flush, name="t", max_delay_s=3600)
    writer.start()
    await writer.submit(1)
    await asyncio.sleep(0.01)  # the writer holds it, waiting for the batch to fill
    await writer.stop()
    assert flushed == [1]
