"""Per-agency DORA snapshots in memory, one per (service, environment) slice, kept fresh.

An agency is loaded from PostgreSQL on first use (a query, a consumed event, or the warm-up at
start): its merged facts into a :class:`FactIndex`, then one snapshot per slice. From then on a
single poller per replica reads what changed (facts and settings) and rebuilds only the slices
those changes touch.

The poller reads by transaction id (see ``repository``): each read takes what transactions from
the oldest one still running at the previous read wrote, so nothing committed is missed and
little is read twice. It is woken at once by this replica's own commits and, through a core-NATS
notification published after each commit, by every other replica's; a periodic read bounds the
staleness should a notification be lost. Every replica therefore converges on what PostgreSQL
holds, whichever replica consumed the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import Gauge, Histogram

from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from cortex_kit.messaging.bus import Bus
from metrics_collector.domain.metrics.calculators import (
    DoraConfig,
    DoraSnapshot,
    LinkingConfig,
    LinkStrategy,
    SliceSnapshot,
    fact_from_stored,
)
from metrics_collector.domain.metrics.commits import SliceKey
from metrics_collector.domain.metrics.fact_index import FactIndex
from metrics_collector.dora import repository
from metrics_collector.dora.repository import SettingsRow

log = get_logger("metrics_collector.dora_cache")
NOTIFY_SUBJECT = "_cortex.metrics_collector.facts_changed"
"""Core NATS (no stream captures it): ``<subject>.<agency>`` after each commit."""

REBUILD_SECONDS = Histogram(
    "cortex_dora_slice_rebuild_seconds",
    "Time to rebuild one (service, environment) DORA snapshot.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

PENDING_SLICES = Gauge(
    "cortex_dora_pending_slices",
    "Slices with changes not yet rebuilt into their DORA snapshot (queries of those slices "
    "rebuild them first; a lasting non-zero value means the metrics lag behind a burst).",
)


def config_of(settings: SettingsRow | None) -> DoraConfig:
    if settings is None:
        return DoraConfig()
    return DoraConfig(
        linking=LinkingConfig(
            strategy=LinkStrategy(settings.strategy),
            max_age=timedelta(seconds=settings.max_age_s),
            window=timedelta(seconds=settings.window_s),
            explicit_first=settings.explicit_first,
        )
    )


@dataclass
class AgencyCache:
    agency: str
    index: FactIndex
    snapshots: dict[SliceKey, SliceSnapshot] = field(default_factory=dict)
    dirty: set[SliceKey] = field(default_factory=set)
    # Rows written by transactions from this id on may not have been read yet.
    watermark: int = 0
    generation: int = 0  # bumped whenever a snapshot changes

    @property
    def config(self) -> DoraConfig:
        return self.index.config

    def stale(self, wanted: Callable[[SliceKey], bool]) -> int:
        """How many of the wanted slices have changes not rebuilt yet."""
        return sum(1 for key in self.dirty if wanted(key))

    def snapshot(self, keys: Iterable[SliceKey]) -> DoraSnapshot:
        return DoraSnapshot(
            {k: self.snapshots[k] for k in keys if k in self.snapshots}, self.config
        )

    def rebuild(self, key: SliceKey) -> None:
        """Rebuild one slice now (synchronous: a slice is never seen half-built)."""
        self.dirty.discard(key)
        started = time.perf_counter()
        built = self.index.build(key)
        REBUILD_SECONDS.observe(time.perf_counter() - started)
        if built is None:
            self.snapshots.pop(key, None)
        else:
            self.snapshots[key] = built
        self.generation += 1


def _row_fact(row: Sequence[Any]) -> tuple[str, str, Any]:
    # By position (FACT_COLUMNS' order): by name costs more than building the fact.
    kind, event_id, occurred_at, facts = row[1], row[2], row[3], json.loads(row[4])
    return kind, event_id, fact_from_stored(kind, facts, event_id=event_id, occurred_at=occurred_at)


_gc_pauses = 0


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while an agency loads: each of the collections that
    millions of new long-lived facts would trigger walks all of them (the facts hold no
    cycles; what other tasks leave meanwhile is collected afterwards)."""
    global _gc_pauses
    _gc_pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()


class DoraCache:
    def __init__(
        self,
        db: Database,
        *,
        poll_interval_s: float = 1.0,
        load_chunk: int = 10_000,
        burst_facts: int = 500,
        burst_pause: float = 4.0,
    ) -> None:
        self._db = db
        self._burst_facts = burst_facts
        self._burst_pause = burst_pause
        self._burst_until = 0.0
        self._poll_interval_s = poll_interval_s
        self._load_chunk = load_chunk
        self._agencies: dict[str, AgencyCache] = {}
        self._loading: dict[str, asyncio.Task[AgencyCache]] = {}
        self._wake = asyncio.Event()
        self._requested = 0  # poll requests so far
        self._completed = 0  # every request up to this one has been served by a poll
        self._polled = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._rebuilder: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()
        self._sub: Subscription | None = None
        self._bus: Bus | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._warming = False
        self._loaded_facts = 0  # read by loads so far (progress shown while warming up)

    # --- reading ------------------------------------------------------------------------

    def loaded(self) -> list[AgencyCache]:
        return list(self._agencies.values())

    async def agency(
        self,
        agency: str,
        wanted: Callable[[SliceKey], bool] = lambda _k: True,
        *,
        budget_s: float = 2.0,
    ) -> AgencyCache:
        """The agency's snapshots, loaded if need be, with every change this replica has
        committed (or was told of) applied and the ``wanted`` slices rebuilt — for at most
        ``budget_s``: after a burst that touched many large slices, a query answers in time
        with the slices not rebuilt yet as they were (``stale``), and the rebuilder catches up.
        """
        entry = self._agencies.get(agency) or await self._load(agency)
        await self.caught_up()
        deadline = time.monotonic() + budget_s
        for key in [k for k in entry.dirty if wanted(k)]:
            if time.monotonic() > deadline:
                break
            if key in entry.dirty:  # another task may have rebuilt it meanwhile
                entry.rebuild(key)
                await asyncio.sleep(0)
        return entry

    async def caught_up(self, timeout_s: float = 2.0) -> None:
        """Wait until a poll has served every poll request made before this call."""
        target = self._requested
        if self._completed >= target or self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self._polled:
                await self._polled.wait_for(lambda: self._completed >= target)

    # --- loading ------------------------------------------------------------------------

    async def _load(self, agency: str) -> AgencyCache:
        task = self._loading.get(agency)
        if task is None:
            task = asyncio.create_task(self._read_agency(agency), name=f"dora-load-{agency}")
            self._loading[agency] = task
            task.add_done_callback(lambda _t: self._loading.pop(agency, None))
        return await asyncio.shield(task)

    async def _read_agency(self, agency: str) -> AgencyCache:
        with _gc_paused():
            return await self._read_agency_now(agency)

    async def _read_agency_now(self, agency: str) -> AgencyCache:
        started = time.perf_counter()
        async with self._db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                watermark = await repository.snapshot_xmin(conn)
                index = FactIndex(config_of(await repository.get_settings(conn, agency)))
                async for rows in repository.stream_facts(conn, agency, self._load_chunk):
                    index.load(_row_fact(row) for row in rows)
                    self._loaded_facts += len(rows)
                    await asyncio.sleep(0)
        entry = AgencyCache(agency, index, watermark=watermark)
        for key in sorted(index.slices()):
            entry.rebuild(key)
            await asyncio.sleep(0)
        self._agencies[agency] = entry
        # Millions of long-lived facts would make every full garbage collection walk them all
        # (seconds, stalling the loop); frozen, they are skipped, and still freed when replaced
        # (they hold no reference cycles).
        gc.freeze()
        log.info(
            "dora.agency_loaded",
            agency=agency,
            facts=len(index),
            slices=len(entry.snapshots),
            seconds=round(time.perf_counter() - started, 3),
        )
        return entry

    def spawn_warm(self) -> None:
        self._warming = True
        self._spawn(self._warm_logged())

    async def _warm_logged(self) -> None:
        try:
            await self.warm()
        except Exception as exc:  # the first query will load the agency instead
            log.warning("dora.warm_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._warming = False

    def warming_up(self) -> str | None:
        """While the warm-up at start runs, why this replica should not take queries yet
        (readiness: a rolling update keeps the old replica serving until the new one has
        loaded); None once it is done, or failed (queries then load on demand)."""
        if not self._warming:
            return None
        return f"loading the delivery history: {self._loaded_facts:,} facts so far"

    async def warm(self) -> None:
        """Load every agency that has facts (so Prometheus has its series from the start)."""
        async with self._db.engine.connect() as conn:
            agencies = await repository.agencies_with_facts(conn)
        for agency in agencies:
            if agency not in self._agencies:
                await self._load(agency)

    # --- keeping fresh ------------------------------------------------------------------

    def committed(self, agencies: Iterable[str]) -> None:
        """Facts or settings of ``agencies`` were committed by this replica: read them now,
        and tell the other replicas to."""
        self.request_poll()
        for agency in agencies:
            if agency not in self._agencies:
                self._spawn(self._load(agency))
            if self._bus is not None:
                self._spawn(self._bus.nc.publish(f"{NOTIFY_SUBJECT}.{agency}", b""))

    def request_poll(self) -> None:
        self._requested += 1
        self._wake.set()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def start(self, bus: Bus | None = None) -> None:
        if bus is not None:
            self._bus = bus

            async def on_notified(_msg: Msg) -> None:
                self.request_poll()

            self._sub = await bus.nc.subscribe(f"{NOTIFY_SUBJECT}.*", cb=on_notified)
        self._task = asyncio.create_task(self._run(), name="dora-cache-poller")
        self._rebuilder = asyncio.create_task(self._rebuild_loop(), name="dora-cache-rebuilder")

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        running = (self._task, self._rebuilder, *self._loading.values(), *self._background)
        tasks = [t for t in running if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
            self._wake.clear()
            target = self._requested
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL away: keep serving, try again later
                log.warning("dora.poll_failed", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self._poll_interval_s)
                continue
            async with self._polled:
                self._completed = max(self._completed, target)
                self._polled.notify_all()
            self._dirty.set()

    @property
    def in_burst(self) -> bool:
        """Facts arrive faster than their slices can be rebuilt one by one: storing them comes
        first (see ``_rebuild_loop``)."""
        return time.monotonic() < self._burst_until

    async def poll(self) -> int:
        """Apply every fact and setting committed since the previous poll; returns how many
        facts were read."""
        entries = self.loaded()
        if not entries:
            return 0
        low = min(e.watermark for e in entries)
        agencies = [e.agency for e in entries]
        async with self._db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                watermark = await repository.snapshot_xmin(conn)
                facts = await repository.facts_changed_since(conn, agencies, low)
                settings = await repository.settings_changed_since(conn, agencies, low)
        by_agency = {e.agency: e for e in entries}
        for row in facts:
            entry = by_agency[row.agency]
            if row.changed_xid >= entry.watermark:
                kind, event_id, fact = _row_fact(row)
                entry.dirty |= entry.index.put(kind, event_id, fact)
        for change in settings:
            entry = by_agency[change.settings.agency]
            config = config_of(change.settings)
            if change.changed_xid >= entry.watermark and config != entry.config:
                entry.index.config = config
                entry.dirty |= entry.index.slices() | set(entry.snapshots)
        for entry in entries:
            entry.watermark = watermark
        PENDING_SLICES.set(sum(len(e.dirty) for e in entries))
        if len(facts) >= self._burst_facts:
            self._burst_until = time.monotonic() + 2 * self._poll_interval_s
        return len(facts)

    async def _rebuild_loop(self) -> None:
        # Apart from the poller, so that polls (which queries wait for) never wait for a
        # round of rebuilds; queries rebuild the dirty slices they need themselves.
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            for entry in self.loaded():
                while entry.dirty:
                    started = time.perf_counter()
                    entry.rebuild(entry.dirty.pop())
                    PENDING_SLICES.set(sum(len(e.dirty) for e in self.loaded()))
                    # During a burst (thousands of facts a second over many large slices) a
                    # slice is dirty again before its rebuild is done: rebuilding at most a
                    # fifth of the time lets consuming, and so storing, keep up; the slices
                    # catch up at full speed once the burst is over. Queries rebuild the
                    # slices they need at once in any case.
                    pause = self._burst_pause if self.in_burst else 0.0
                    await asyncio.sleep((time.perf_counter() - started) * pause)
