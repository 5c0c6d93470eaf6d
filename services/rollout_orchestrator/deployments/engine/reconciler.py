"""The reconciler: a loop whose every tick derives the pending work from the database — each
running or rolling-back run, locked ``FOR UPDATE SKIP LOCKED`` in its own transaction, so two
replicas never drive one run at once and a run another holds is simply left to it. NATS and
HTTP only wake it (``wake``); a restart loses nothing, because everything is in rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from rollout_orchestrator.deployments import repository
from rollout_orchestrator.deployments.engine import metrics
from rollout_orchestrator.deployments.engine.driving import Driver
from rollout_orchestrator.domain.run import DRIVEN

log = get_logger("rollout_orchestrator.reconciler")
Clock = Callable[[], datetime]


class Reconciler:
    def __init__(
        self,
        db: Database,
        driver: Driver,
        clock: Clock,
        *,
        interval_s: float,
        batch_size: int,
        gauge_interval_s: float,
    ) -> None:
        self._db = db
        self._driver = driver
        self._clock = clock
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._gauge_interval_s = gauge_interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> int:
        """Drive every run that needs it now; returns how many this replica drove."""
        driven = 0
        after: str | None = None
        while True:
            async with self._db.session() as session:
                ids = await repository.driven_run_ids(
                    session, sorted(DRIVEN), after, self._batch_size
                )
            for run_id in ids:
                try:
                    driven += await self._drive(run_id)
                except Exception as exc:  # one run's failure (an outage, a bug) stops no other
                    log.warning(
                        "rollout.run_step_failed",
                        run_id=run_id,
                        error=f"{type(exc).__name__}: {exc}",
                    )
            if len(ids) < self._batch_size:
                return driven
            after = ids[-1]

    async def _drive(self, run_id: str) -> int:
        """One run in its own transaction, locked: 0 when another replica holds it (it drives
        it) or it has moved on."""
        async with self._db.session() as session:
            run = await repository.lock_run(session, None, run_id, skip_locked=True)
            if run is None or run.status not in DRIVEN:
                return 0
            await self._driver.step(session, run, self._clock())
            return 1

    async def refresh_gauge(self) -> None:
        async with self._db.session() as session:
            metrics.runs(await repository.status_counts(session))

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rollout-reconciler")

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
            self._wake.clear()
            try:
                await self.tick()
                if loop.time() >= next_gauge:
                    await self.refresh_gauge()
                    next_gauge = loop.time() + self._gauge_interval_s
            except Exception as exc:  # an outage: try again next tick, never die
                log.warning("rollout.reconcile_failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
