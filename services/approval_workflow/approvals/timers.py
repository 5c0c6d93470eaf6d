"""The reconciler: a loop that fires due expiry and escalation timers from the database (so a
restart loses none) and recomputes the pending gauge. Replicas share the work through
``FOR UPDATE SKIP LOCKED``; each timer fires once. Between ticks it sleeps until the next
timer is due, at most ``interval_s``, so a timer fires about when it is due."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from approval_workflow.approvals import metrics, repository, service
from approval_workflow.approvals.staging import Staging
from cortex_kit.db import Database
from cortex_kit.logs import get_logger

log = get_logger("approval_workflow.timers")
Clock = Callable[[], datetime]
MIN_DELAY_S = 0.02


class Reconciler:
    def __init__(
        self,
        db: Database,
        staging: Staging,
        clock: Clock,
        *,
        interval_s: float,
        batch_size: int,
        gauge_interval_s: float,
    ) -> None:
        self._db = db
        self._staging = staging
        self._clock = clock
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._gauge_interval_s = gauge_interval_s
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> int:
        """Fire what is due now, batch after batch; returns how many timers were claimed."""
        total = 0
        while True:
            async with self._db.session() as session:
                claimed = await service.fire_due(
                    session, self._staging, self._clock(), self._batch_size
                )
            total += claimed
            if claimed < self._batch_size:
                return total

    async def delay_s(self) -> float:
        """How long to sleep: until the earliest unfired timer is due, within
        [``MIN_DELAY_S``, ``interval_s``] (a due timer another replica holds is retried soon,
        never in a busy loop)."""
        async with self._db.session() as session:
            due = await repository.next_due(session)
        if due is None:
            return self._interval_s
        wait = (due - self._clock()).total_seconds()
        return min(self._interval_s, max(MIN_DELAY_S, wait))

    async def refresh_gauge(self) -> None:
        async with self._db.session() as session:
            metrics.pending(await repository.pending_counts(session))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="approval-reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_gauge = loop.time()
        while True:
            delay = self._interval_s
            try:
                await self.tick()
                if loop.time() >= next_gauge:
                    await self.refresh_gauge()
                    next_gauge = loop.time() + self._gauge_interval_s
                delay = await self.delay_s()
            except Exception as exc:  # an outage: try again next tick, never die
                log.warning("approval.timers_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(delay)
