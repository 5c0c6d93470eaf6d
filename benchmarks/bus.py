"""bus: producer → PostgreSQL outbox → OutboxRelay → JetStream → ConsumerRunner → PostgreSQL.

On a private NATS (JetStream, file storage) and a private, durable PostgreSQL (fsync and
synchronous commit on), with the kit's pieces wired as a service wires them (uvloop):

- the producer packs ``ChangeRecorded`` envelopes (``occurred_at`` = pack time) and stages them
  with ``add_to_outbox`` in ``Database.session()`` transactions, each of ``tx_size`` events, up
  to ``PRODUCER_CONCURRENCY`` at a time (a service's concurrent requests), open loop;
- the kit's ``OutboxRelay`` (its own ``Database`` and ``Bus``, woken by the producer's commits)
  publishes them to ``CORTEX_DELIVERY`` with ``Nats-Msg-Id`` dedupe;
- the kit's ``ConsumerRunner`` (another ``Database`` and ``Bus``) claims each batch in its inbox
  and its handler decodes every envelope and inserts one row per event into ``received`` in the
  same transaction.

Two layouts. "Two processes" is production's: the producing service (producer and relay) and
the consuming service are different processes, so they can use two cores; the consumer runs in
a worker process started once (``spawn``). "One process" runs all three in this process. Each
process, once set up, freezes its startup objects out of the cyclic GC as a service does.

Latency of an event = the consumer's commit time (a ``Database.on_commit`` hook stamps the batch
with ``time.time()``) - the envelope's ``occurred_at``, computed from the stored rows. Throughput
= stored events / (first producer commit → last consumer commit). Every produced id must be
stored exactly once: ``lost_events`` and ``duplicate_events`` come from the table.

Runs, each on a fresh stream and fresh tables: the raw JetStream baseline (the same envelopes,
plain nats-py ``publish_async`` → pull ``fetch``, no PostgreSQL) in both layouts; the kit at
full speed in both layouts (``events_per_s`` is the two-process one); then, two processes, at an
offered 10k events/s (the ``e2e_latency_*`` metrics, target p99 ≤ 250 ms;
``latency_run_offered_events_per_s`` says what the producer managed to offer), at a sustained
rate (60 % of the full speed just measured), and at a light 1k events/s; and "staged", in one
process: produce everything, then relay it, then consume it, each stage alone, for each stage's
own speed and CPU cost per event. CPU time (µs per event, of each Python process, of PostgreSQL
with its backends and of nats-server) is steadier than wall time on a shared machine, and says
where a gain or a regression lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal

import nats
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError
from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Identity,
    Integer,
    MetaData,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.schema import CreateSchema

from benchmarks.common import (
    CpuMeter,
    Metrics,
    Servers,
    embedded_servers,
    interpolated_percentile,
    metric,
    ratio,
    run_async,
)
from cortex_contracts import (
    DLQ_STREAM,
    ChangeRecorded,
    Envelope,
    decode,
    encode,
    pack,
    stream_for,
    subject_filter,
    subject_for,
    unpack,
)
from cortex_kit.db import Database
from cortex_kit.logs import configure_logging
from cortex_kit.messaging.bus import MSG_ID_HEADER, Bus
from cortex_kit.messaging.consumer import ConsumerRunner, ConsumerSpec
from cortex_kit.messaging.handlers import Message
from cortex_kit.messaging.outbox import OutboxRelay, PendingEvent, add_to_outbox
from cortex_kit.messaging.tables import messaging_tables
from cortex_kit.messaging.transport import DEFAULT_TRANSPORT, TransportName
from cortex_kit.observability import configure_tracing
from cortex_kit.runtime import freeze_startup_objects

AGENCY = "acme"
SOURCE = "bench-producer"
SUBJECT = subject_for(ChangeRecorded(), AGENCY)
STREAM = stream_for(SUBJECT)
DATABASE = "bench"
TARGET_EVENTS_PER_S = 10_000.0
TARGET_P99_MS = 250.0
STALL_S = 20.0  # no consumer progress for this long after the producer finished → give up
PRODUCER_CONCURRENCY = 8  # producer transactions in flight (the pool has 5 + 5 overflow)
SUSTAINED_FRACTION = 0.6  # of the full speed: the rate of the "sustained" latency run
RAW_DURABLE = "raw-baseline"
# The transport the kit's runs do not use by default, measured beside it in the same run.
OTHER_TRANSPORT: TransportName = "public" if DEFAULT_TRANSPORT == "fast" else "fast"
Layout = Literal["one", "two"]


@dataclass(frozen=True)
class Sizes:
    events: int  # the full-speed run and the baseline
    max_tx_size: int  # events per producer transaction at full speed
    rate_tx_size: int  # events per producer transaction at a fixed rate
    rate_duration_s: float  # of the 10k/s run
    light_duration_s: float  # of the 1k/s run
    outbox_batch_size: int = 1000  # ProcessSettings.outbox_batch_size default
    consumer_batch_size: int = 500  # ProcessSettings.consumer_batch_size default
    outbox_poll_interval_s: float = 0.5
    pool_size: int = 5


FULL = Sizes(
    events=100_000, max_tx_size=500, rate_tx_size=100, rate_duration_s=10, light_duration_s=5
)
QUICK = Sizes(
    events=10_000, max_tx_size=500, rate_tx_size=100, rate_duration_s=1.5, light_duration_s=1
)


# ----------------------------------------------------------------------------- measurement


def _change(n: int) -> ChangeRecorded:
    change = ChangeRecorded(
        event_id=f"bench-{n}",
        commit_sha=f"{n:040x}",
        repo="github.com/acme/checkout",
        service="checkout",
        author="bench@acme.example",
    )
    change.committed_at.FromSeconds(1_700_000_000 + n)
    return change


def _envelope(n: int) -> Envelope:
    return pack(_change(n), agency=AGENCY, source=SOURCE)


def _occurred_s(envelope: Envelope) -> float:
    ts = envelope.occurred_at
    return float(ts.seconds) + ts.nanos * 1e-9


@dataclass
class Probe:
    """The consumer's handler and commit hook: one ``received`` row per event, commit stamps."""

    table: Table
    batch_no: int = 0
    pending: tuple[int, int] | None = None
    commit_at: dict[int, float] = field(default_factory=dict)
    committed: int = 0

    async def handle(self, session: AsyncSession, messages: Sequence[Message[Envelope]]) -> None:
        self.batch_no += 1
        handled_at = time.time()
        rows = []
        for message in messages:
            envelope = message.payload
            rows.append(
                {
                    "event_id": envelope.id,
                    "occurred_at_s": _occurred_s(envelope),
                    "handled_at_s": handled_at,
                    "batch_no": self.batch_no,
                }
            )
        await session.execute(insert(self.table), rows)
        self.pending = (self.batch_no, len(rows))

    def on_commit(self, _session: object = None) -> None:
        # Also fires for commits without a handler call (only duplicates): nothing pending then.
        if self.pending is not None:
            batch_no, count = self.pending
            self.pending = None
            self.commit_at[batch_no] = time.time()
            self.committed += count


@dataclass
class Produced:
    ids: list[str] = field(default_factory=list)
    commit_at: dict[str, float] = field(default_factory=dict)
    first_commit: float = 0.0
    last_commit: float = 0.0


@dataclass(frozen=True)
class Stage:
    seconds: float
    cpu_s: dict[str, float]


@dataclass(frozen=True)
class RunStats:
    label: str
    produced: int
    stored_rows: int
    lost: int
    duplicates: int
    unexpected: int
    events_per_s: float
    offered_per_s: float
    e2e_ms: list[float]
    producer_commit_ms: list[float]
    relay_to_handler_ms: list[float]
    consumer_commit_ms: list[float]
    cpu_s: dict[str, float]
    stages: dict[str, Stage]

    def cpu_us_per_event(self, process: str) -> float:
        """CPU µs per stored event of ``process``; ``python_total`` sums the Python processes
        (``python``: this one, with producer and relay; ``python_consumer``: the worker's)."""
        return _per_event(self.cpu_s, process, self.stored_rows)

    def stage_cpu_us_per_event(self, stage: str, process: str = "python") -> float:
        cost = self.stages[stage]
        return round(cost.cpu_s.get(process, 0.0) / max(self.produced, 1) * 1e6, 1)

    def stage_events_per_s(self, stage: str) -> float:
        return round(self.produced / self.stages[stage].seconds, 1)

    def p(self, values: list[float], q: float) -> float:
        return round(interpolated_percentile(values, q), 2) if values else 0.0

    def describe(self) -> str:
        def span(values: list[float]) -> str:
            return f"p50 {self.p(values, 50):.1f} / p99 {self.p(values, 99):.1f} ms"

        return (
            f"[{self.label}] produced {self.produced} (offered {self.offered_per_s:,.0f}/s), "
            f"stored {self.stored_rows}, lost {self.lost}, duplicates {self.duplicates}, "
            f"throughput {self.events_per_s:,.0f}/s\n"
            f"    e2e {span(self.e2e_ms)}; producer commit {span(self.producer_commit_ms)}; "
            f"relay→handler {span(self.relay_to_handler_ms)}; "
            f"consumer commit {span(self.consumer_commit_ms)}\n"
            f"    CPU µs/event: {_describe_cpu(self.cpu_s, self.stored_rows)}"
            + "".join(
                f"\n    {stage} alone: {self.stage_events_per_s(stage):,.0f}/s, CPU µs/event "
                + ", ".join(
                    f"{name} {self.stage_cpu_us_per_event(stage, name):.0f}" for name in cost.cpu_s
                )
                for stage, cost in self.stages.items()
            )
        )


def _per_event(cpu_s: dict[str, float], process: str, events: int) -> float:
    if process == "python_total":
        seconds = sum(v for name, v in cpu_s.items() if name.startswith("python"))
    else:
        seconds = cpu_s.get(process, 0.0)
    return round(seconds / max(events, 1) * 1e6, 1)


def _describe_cpu(cpu_s: dict[str, float], events: int) -> str:
    names = list(cpu_s)
    if sum(name.startswith("python") for name in names) > 1:
        names.insert(0, "python_total")
    return ", ".join(f"{name} {_per_event(cpu_s, name, events):.0f}" for name in names)


def as_started_service() -> None:
    """What a service does once started (``cortex_kit.runtime``): startup objects leave the
    cyclic GC. Called by each process before a measured run, after thawing the previous run's."""
    gc.unfreeze()
    freeze_startup_objects()


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------- consumer worker process


@dataclass(frozen=True)
class KitConsumerJob:
    """Run a ``ConsumerRunner`` on the run's inbox and ``received`` tables, as a service."""

    label: str
    nats_url: str
    db_url: str
    batch_size: int
    pool_size: int
    transport: TransportName = DEFAULT_TRANSPORT


@dataclass(frozen=True)
class RawConsumerJob:
    """Fetch, decode and ack with plain nats-py, as the raw baseline's consumer."""

    nats_url: str
    batch_size: int


@dataclass(frozen=True)
class ConsumerReport:
    consumed: int
    commit_at: dict[int, float]  # kit: batch number → its commit time
    last_at: float  # raw: when the last fetched batch was acked


def _worker_main(conn: Connection) -> None:
    """The consumer process: runs the jobs it receives, one at a time, until it gets None.

    Messages to the parent: ``("ready",)`` once consuming, ``("progress", n)`` (``n`` events
    done) to each ``"progress"``, ``("done", ConsumerReport)`` after ``"stop"``,
    ``("error", text)``.
    """
    configure_logging("bench", "ERROR", as_json=False)
    configure_tracing("bench", "none", None)
    while (job := conn.recv()) is not None:
        try:
            report = run_async(lambda: _run_job(job, conn))
        except BaseException:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("done", report))


async def _run_job(job: KitConsumerJob | RawConsumerJob, conn: Connection) -> ConsumerReport:
    if isinstance(job, KitConsumerJob):
        return await _kit_consumer(job, conn)
    return await _raw_consumer(job, conn)


async def _report_until_stopped(conn: Connection, done: Callable[[], int]) -> None:
    """Answer the parent's "progress" questions until it says "stop". Only answers: a message
    the parent does not read yet would fill the pipe, and block this process's event loop."""
    conn.send(("ready",))
    while True:
        while conn.poll():
            command = conn.recv()
            if command == "stop":
                return
            conn.send(("progress", done()))
        await asyncio.sleep(0.01)


def consumer_tables(label: str) -> tuple[Table, Table]:
    """The consumer service's inbox and ``received`` tables of run ``label``."""
    meta = MetaData(schema=f"{label}_consumer")
    inbox = messaging_tables(meta).inbox
    received = Table(
        "received",
        meta,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Text, nullable=False),
        Column("occurred_at_s", Double, nullable=False),
        Column("handled_at_s", Double, nullable=False),
        Column("batch_no", Integer, nullable=False),
    )
    return inbox, received


def change_envelope(data: bytes) -> Envelope:
    """The consumer's decoder: an envelope that carries a ChangeRecorded."""
    envelope = decode(data)
    unpack(envelope, ChangeRecorded)
    return envelope


def kit_consumer(
    db: Database, bus: Bus, label: str, probe: Probe, batch_size: int
) -> ConsumerRunner[Envelope]:
    inbox = consumer_tables(label)[0]
    return ConsumerRunner(
        db,
        bus,
        inbox,
        ConsumerSpec(
            name=f"bench-{label}",
            stream=STREAM.name,
            filter_subjects=[subject_filter("delivery")],
            decode=change_envelope,
            handler=probe.handle,
            batch_size=batch_size,
        ),
        service="bench-consumer",
    )


async def _kit_consumer(job: KitConsumerJob, conn: Connection) -> ConsumerReport:
    db = Database(job.db_url, pool_size=job.pool_size, application_name="bench-c")
    bus = Bus(job.nats_url, name="bench-consumer", transport=job.transport)
    probe = Probe(consumer_tables(job.label)[1])
    db.on_commit(probe.on_commit)
    try:
        await bus.connect()
        consumer = kit_consumer(db, bus, job.label, probe, job.batch_size)
        await consumer.declare()
        await db.ping()  # a warm pool, as the producer's
        as_started_service()
        consumer.start()
        try:
            await _report_until_stopped(conn, lambda: probe.committed)
        finally:
            await consumer.stop()
    finally:
        await bus.close()
        await db.dispose()
    return ConsumerReport(probe.committed, dict(probe.commit_at), 0.0)


async def _raw_consumer(job: RawConsumerJob, conn: Connection) -> ConsumerReport:
    nc = await nats.connect(job.nats_url, pending_size=64 * 1024 * 1024)
    try:
        sub = await nc.jetstream().pull_subscribe_bind(RAW_DURABLE, stream=STREAM.name)
        as_started_service()
        seen: set[str] = set()
        last = 0.0

        async def consume() -> None:
            nonlocal last
            while True:
                try:
                    msgs = await sub.fetch(job.batch_size, timeout=1.0)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                for msg in msgs:
                    seen.add(decode(msg.data).id)
                    await msg.ack()
                last = time.time()

        task = asyncio.create_task(consume())
        try:
            await _report_until_stopped(conn, lambda: len(seen))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await nc.flush()
        return ConsumerReport(len(seen), {}, last)
    finally:
        await nc.close()


class ConsumerProcess:
    """The parent's handle on the consumer worker process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter, as a service
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_worker_main, args=(child,), name="bench-consumer", daemon=True
        )
        self._process.start()
        child.close()
        self.consumed = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _receive(self) -> tuple[Any, ...] | None:
        if not self._conn.poll():
            if not self._process.is_alive():
                raise RuntimeError("the consumer process died")
            return None
        message: tuple[Any, ...] = self._conn.recv()
        if message[0] == "error":
            raise RuntimeError(f"consumer process failed:\n{message[1]}")
        if message[0] == "progress":
            self.consumed = message[1]
        return message

    async def _expect(self, kind: str, timeout_s: float = 120.0) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = self._receive()
            if message is None:
                await asyncio.sleep(0.005)
            elif message[0] == kind:
                return message
        raise TimeoutError(f"no {kind!r} from the consumer process in {timeout_s:.0f} s")

    async def start(self, job: KitConsumerJob | RawConsumerJob) -> None:
        self.consumed = 0
        self._conn.send(job)
        await self._expect("ready")

    async def wait_consumed(self, total: int) -> None:
        seen, progressed = -1, time.monotonic()
        while self.consumed < total:
            self._conn.send("progress")
            await self._expect("progress")
            await asyncio.sleep(0.01)
            if self.consumed != seen:
                seen, progressed = self.consumed, time.monotonic()
            elif time.monotonic() - progressed > STALL_S:
                _log(f"consumer stalled at {self.consumed}/{total} events for {STALL_S:.0f} s")
                return

    async def stop(self) -> ConsumerReport:
        self._conn.send("stop")
        report: ConsumerReport = (await self._expect("done"))[1]
        return report

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


# ------------------------------------------------------------------------------ scenarios


class Bench:
    def __init__(self, servers: Servers, sizes: Sizes, worker: ConsumerProcess) -> None:
        self.servers = servers
        self.sizes = sizes
        self.worker = worker
        self.url = servers.postgres.url(DATABASE)
        self.nats_url = servers.nats.url

    def cpu_meter(self, layout: Layout = "one") -> CpuMeter:
        servers = {"postgres": self.servers.postgres.pid, "nats": self.servers.nats.pid}
        if layout == "two":
            servers["python_consumer"] = self.worker.pid
        return CpuMeter(servers)

    async def reset_streams(self) -> None:
        bus = Bus(self.nats_url, name="bench-admin")
        await bus.connect()
        try:
            for spec in (STREAM, DLQ_STREAM):
                with contextlib.suppress(NotFoundError):
                    await bus.js.delete_stream(spec.name)
            await bus.ensure_streams([STREAM, DLQ_STREAM])
        finally:
            await bus.close()

    async def create_tables(self, label: str) -> tuple[Table, Table, Table]:
        """Producer outbox, consumer inbox and ``received``, in two fresh schemas."""
        producer_meta = MetaData(schema=f"{label}_producer")
        outbox = messaging_tables(producer_meta).outbox
        inbox, received = consumer_tables(label)
        engine = create_async_engine(self.url)
        try:
            async with engine.begin() as conn:
                for meta in (producer_meta, received.metadata):
                    assert meta.schema is not None
                    await conn.execute(CreateSchema(meta.schema, if_not_exists=True))
                    await conn.run_sync(meta.create_all)
        finally:
            await engine.dispose()
        return outbox, inbox, received

    async def kit_run(
        self,
        label: str,
        *,
        total: int,
        tx_size: int,
        rate: float | None = None,
        staged: bool = False,
        layout: Layout = "two",
        transport: TransportName = DEFAULT_TRANSPORT,
    ) -> RunStats:
        """One run of the kit; ``layout="two"`` consumes in the worker process (not staged)."""
        sizes = self.sizes
        await self.reset_streams()
        outbox, _, received = await self.create_tables(label)
        remote = layout == "two" and not staged
        producer_db = Database(self.url, pool_size=sizes.pool_size, application_name=SOURCE)
        producer_bus = Bus(self.nats_url, name=SOURCE, transport=transport)
        await producer_bus.connect()
        relay = OutboxRelay(
            producer_db,
            producer_bus,
            outbox,
            service=SOURCE,
            batch_size=sizes.outbox_batch_size,
            poll_interval_s=sizes.outbox_poll_interval_s,
        )
        consumer_db = Database(self.url, pool_size=sizes.pool_size, application_name="bench-c")
        consumer_bus = Bus(self.nats_url, name="bench-consumer", transport=transport)
        probe = Probe(received)
        consumer: ConsumerRunner[Envelope] | None = None
        produced = Produced()
        meter = self.cpu_meter("two" if remote else "one")
        stages: dict[str, Stage] = {}
        commit_at: dict[int, float] = {}
        remote_started = False
        try:
            if remote:
                await self.worker.start(
                    KitConsumerJob(
                        label,
                        self.nats_url,
                        self.url,
                        sizes.consumer_batch_size,
                        sizes.pool_size,
                        transport,
                    )
                )
                remote_started = True
            else:
                await consumer_bus.connect()
                consumer_db.on_commit(probe.on_commit)
                consumer = kit_consumer(
                    consumer_db, consumer_bus, label, probe, sizes.consumer_batch_size
                )
                await consumer.declare()
                await consumer_db.ping()
            # A warm pool, so the first producer commit does not pay for connecting.
            await producer_db.ping()
            as_started_service()
            meter.start()
            if staged:
                assert consumer is not None
                runner = consumer

                # One stage at a time: what each costs alone, and how fast it goes alone.
                async def producing() -> None:
                    await produce(producer_db, outbox, produced, total=total, tx_size=tx_size)

                async def relaying() -> None:
                    relay.start()
                    await _wait_published(producer_bus, total)

                async def consuming() -> None:
                    runner.start()
                    await _wait_consumed(probe, total)

                steps: tuple[tuple[str, Callable[[], Awaitable[None]]], ...] = (
                    ("producer", producing),
                    ("relay", relaying),
                    ("consumer", consuming),
                )
                for name, step in steps:
                    stage_meter = self.cpu_meter()
                    stage_meter.start()
                    started = time.perf_counter()
                    await step()
                    stages[name] = Stage(time.perf_counter() - started, stage_meter.stop())
            else:
                relay.start()
                if consumer is not None:
                    consumer.start()
                await produce(
                    producer_db, outbox, produced, total=total, tx_size=tx_size, rate=rate
                )
                if remote:
                    await self.worker.wait_consumed(total)
                else:
                    await _wait_consumed(probe, total)
            cpu = meter.stop()
        finally:
            if remote_started:
                commit_at = (await self.worker.stop()).commit_at
            await asyncio.gather(*([consumer.stop()] if consumer else []), relay.stop())
            await producer_bus.close()
            await consumer_bus.close()
            await producer_db.dispose()
        if not remote:
            commit_at = probe.commit_at
        try:
            async with consumer_db.session() as session:
                rows = (
                    await session.execute(
                        select(
                            received.c.event_id,
                            received.c.occurred_at_s,
                            received.c.handled_at_s,
                            received.c.batch_no,
                        )
                    )
                ).all()
        finally:
            await consumer_db.dispose()
        return _stats(label, produced, commit_at, [tuple(r) for r in rows], cpu, stages)


async def produce(
    db: Database,
    outbox: Table,
    produced: Produced,
    *,
    total: int,
    tx_size: int,
    rate: float | None = None,
    concurrency: int = PRODUCER_CONCURRENCY,
) -> None:
    """Open-loop producer: transaction k starts at ``start + k·tx_size/rate`` (or at once), with
    up to ``concurrency`` transactions in flight, as a service's concurrent requests. A slower
    commit does not delay the next transaction unless all slots are taken: then the producer
    falls behind its rate, which ``offered_per_s`` shows."""
    start = time.time()
    slots = asyncio.Semaphore(concurrency)
    in_flight: set[asyncio.Task[None]] = set()

    async def transaction(first: int, n: int) -> None:
        try:
            async with db.session() as session:
                events = [PendingEvent(SUBJECT, _envelope(first + k)) for k in range(n)]
                await add_to_outbox(session, outbox, events)
            committed = time.time()
            if not produced.ids or committed < produced.first_commit:
                produced.first_commit = committed
            produced.last_commit = max(produced.last_commit, committed)
            for event in events:
                produced.ids.append(event.envelope.id)
                produced.commit_at[event.envelope.id] = committed
        finally:
            slots.release()

    count = 0
    try:
        while count < total:
            n = min(tx_size, total - count)
            if rate is not None:
                delay = start + count / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(transaction(count, n))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            count += n
    finally:
        await asyncio.gather(*in_flight)


async def _wait_published(bus: Bus, total: int) -> None:
    seen, progressed = -1, time.monotonic()
    while (published := (await bus.js.stream_info(STREAM.name)).state.messages) < total:
        await asyncio.sleep(0.01)
        if published != seen:
            seen, progressed = published, time.monotonic()
        elif time.monotonic() - progressed > STALL_S:
            _log(f"relay stalled at {published}/{total} events for {STALL_S:.0f} s")
            return


async def _wait_consumed(probe: Probe, total: int) -> None:
    seen, progressed = -1, time.monotonic()
    while probe.committed < total:
        await asyncio.sleep(0.01)
        if probe.committed != seen:
            seen, progressed = probe.committed, time.monotonic()
        elif time.monotonic() - progressed > STALL_S:
            _log(f"consumer stalled at {probe.committed}/{total} events for {STALL_S:.0f} s")
            return


def _stats(
    label: str,
    produced: Produced,
    commit_at: dict[int, float],
    rows: list[tuple[str, float, float, int]],
    cpu_s: dict[str, float],
    stages: dict[str, Stage],
) -> RunStats:
    ids = {row[0] for row in rows}
    expected = set(produced.ids)
    e2e, producer_commit, relay_to_handler, consumer_commit = [], [], [], []
    last_commit = 0.0
    for event_id, occurred, handled, batch_no in rows:
        committed = commit_at.get(batch_no)
        if committed is None:  # committed while the consumer was being stopped after a stall
            continue
        last_commit = max(last_commit, committed)
        e2e.append((committed - occurred) * 1000)
        consumer_commit.append((committed - handled) * 1000)
        produced_at = produced.commit_at.get(event_id)
        if produced_at is not None:
            producer_commit.append((produced_at - occurred) * 1000)
            relay_to_handler.append((handled - produced_at) * 1000)
    window = last_commit - produced.first_commit
    produce_window = produced.last_commit - produced.first_commit
    return RunStats(
        label=label,
        produced=len(produced.ids),
        stored_rows=len(rows),
        lost=len(expected - ids),
        duplicates=len(rows) - len(ids),
        unexpected=len(ids - expected),
        events_per_s=len(ids & expected) / window if window > 0 else 0.0,
        offered_per_s=len(produced.ids) / produce_window if produce_window > 0 else 0.0,
        e2e_ms=e2e,
        producer_commit_ms=producer_commit,
        relay_to_handler_ms=relay_to_handler,
        consumer_commit_ms=consumer_commit,
        cpu_s=cpu_s,
        stages=stages,
    )


# ------------------------------------------------------------------------------- baseline


@dataclass(frozen=True)
class Baseline:
    events_per_s: float
    consumed: int
    not_acknowledged: int
    cpu_s: dict[str, float]

    def cpu_us_per_event(self, process: str) -> float:
        return _per_event(self.cpu_s, process, self.consumed)


async def raw_js_baseline(
    bench: Bench, total: int, batch_size: int, layout: Layout = "two"
) -> Baseline:
    """Plain nats-py: publish_async the same envelopes, a durable pull consumer fetches, decodes
    and acks them (in the worker process with ``layout="two"``)."""
    await bench.reset_streams()
    publisher = await nats.connect(bench.nats_url, pending_size=64 * 1024 * 1024)
    subscriber = await nats.connect(bench.nats_url, pending_size=64 * 1024 * 1024)
    remote_started = False
    try:
        pub_js = publisher.jetstream(publish_async_max_pending=4000)
        sub_js = subscriber.jetstream()
        await sub_js.add_consumer(
            STREAM.name,
            ConsumerConfig(
                durable_name=RAW_DURABLE,
                ack_policy=AckPolicy.EXPLICIT,
                filter_subject=subject_filter("delivery"),
                max_ack_pending=max(1000, batch_size * 4),  # as ConsumerRunner declares it
            ),
        )
        seen: set[str] = set()
        last = 0.0
        consumed = 0
        consumer: asyncio.Task[None] | None = None
        if layout == "two":
            await bench.worker.start(RawConsumerJob(bench.nats_url, batch_size))
            remote_started = True
        else:
            sub = await sub_js.pull_subscribe_bind(RAW_DURABLE, stream=STREAM.name)

            async def consume() -> None:
                nonlocal last
                while len(seen) < total:
                    try:
                        msgs = await sub.fetch(batch_size, timeout=1.0)
                    except (nats.errors.TimeoutError, TimeoutError):
                        continue
                    for msg in msgs:
                        seen.add(decode(msg.data).id)
                        await msg.ack()
                    last = time.time()

        as_started_service()
        meter = bench.cpu_meter(layout)
        meter.start()
        if layout == "one":
            consumer = asyncio.create_task(consume())
        start = time.time()
        futures = []
        for n in range(total):
            envelope = _envelope(n)
            futures.append(
                await pub_js.publish_async(
                    SUBJECT, encode(envelope), headers={MSG_ID_HEADER: envelope.id}
                )
            )
        acks = await asyncio.gather(*futures, return_exceptions=True)
        if consumer is not None:
            try:
                await asyncio.wait_for(consumer, timeout=STALL_S + total / 1000)
            except TimeoutError:
                _log(f"[raw_js {layout}] consumer stalled at {len(seen)}/{total} events")
            consumed = len(seen)
        else:
            await bench.worker.wait_consumed(total)
        cpu = meter.stop()
        if remote_started:
            remote_started = False
            report = await bench.worker.stop()
            consumed, last = report.consumed, report.last_at
        await subscriber.flush()
        baseline = Baseline(
            events_per_s=consumed / (last - start) if last > start else 0.0,
            consumed=consumed,
            not_acknowledged=sum(isinstance(a, BaseException) for a in acks),
            cpu_s=cpu,
        )
        _log(
            f"[raw_js, {layout} process{'es' if layout == 'two' else ''}] published {total} "
            f"({baseline.not_acknowledged} not acknowledged), consumed {consumed}, "
            f"throughput {baseline.events_per_s:,.0f}/s\n"
            f"    CPU µs/event: {_describe_cpu(cpu, consumed)}"
        )
        return baseline
    finally:
        if remote_started:
            await bench.worker.stop()
        await publisher.close()
        await subscriber.close()


# ------------------------------------------------------------------------------------ run


async def _main(sizes: Sizes, worker: ConsumerProcess) -> Metrics:
    with embedded_servers(durable=True) as servers:
        servers.postgres.ensure_database(DATABASE)
        bench = Bench(servers, sizes, worker)
        _log(f"bus: NATS {servers.nats.url}, PostgreSQL port {servers.postgres.port} (durable)")
        batch = sizes.consumer_batch_size
        baseline = await raw_js_baseline(bench, sizes.events, batch, "two")
        baseline_one = await raw_js_baseline(bench, sizes.events, batch, "one")
        full_speed = await bench.kit_run("max", total=sizes.events, tx_size=sizes.max_tx_size)
        _log(full_speed.describe())
        # The other transport at full speed and at 10k/s, in the same run (docs/benchmarks.md).
        other_full_speed = await bench.kit_run(
            f"max_{OTHER_TRANSPORT}",
            total=sizes.events,
            tx_size=sizes.max_tx_size,
            transport=OTHER_TRANSPORT,
        )
        _log(other_full_speed.describe())
        one_process = await bench.kit_run(
            "max1", total=sizes.events, tx_size=sizes.max_tx_size, layout="one"
        )
        _log(one_process.describe())
        at_10k = await bench.kit_run(
            "rate10k",
            total=int(TARGET_EVENTS_PER_S * sizes.rate_duration_s),
            tx_size=sizes.rate_tx_size,
            rate=TARGET_EVENTS_PER_S,
        )
        _log(at_10k.describe())
        other_at_10k = await bench.kit_run(
            f"rate10k_{OTHER_TRANSPORT}",
            total=int(TARGET_EVENTS_PER_S * sizes.rate_duration_s),
            tx_size=sizes.rate_tx_size,
            rate=TARGET_EVENTS_PER_S,
            transport=OTHER_TRANSPORT,
        )
        _log(other_at_10k.describe())
        # A rate the kit sustains here: a fraction of the full speed just measured.
        sustained_rate = max(500.0, full_speed.events_per_s * SUSTAINED_FRACTION // 500 * 500)
        sustained = await bench.kit_run(
            "sustained",
            total=int(sustained_rate * sizes.rate_duration_s),
            tx_size=sizes.rate_tx_size,
            rate=sustained_rate,
        )
        _log(sustained.describe())
        at_1k = await bench.kit_run(
            "rate1k",
            total=int(1_000 * sizes.light_duration_s),
            tx_size=sizes.rate_tx_size,
            rate=1_000,
        )
        _log(at_1k.describe())
        staged = await bench.kit_run(
            "staged", total=sizes.events // 2, tx_size=sizes.max_tx_size, staged=True
        )
        _log(staged.describe())
    return _metrics(
        Runs(
            baseline,
            baseline_one,
            full_speed,
            one_process,
            at_10k,
            sustained,
            at_1k,
            staged,
            other_full_speed,
            other_at_10k,
        )
    )


@dataclass(frozen=True)
class Runs:
    baseline: Baseline  # two processes
    baseline_one: Baseline  # one process
    full_speed: RunStats  # two processes
    one_process: RunStats
    at_10k: RunStats
    sustained: RunStats
    at_1k: RunStats
    staged: RunStats  # one process, one stage at a time
    other_full_speed: RunStats  # OTHER_TRANSPORT, two processes
    other_at_10k: RunStats  # OTHER_TRANSPORT, two processes


def _metrics(runs: Runs) -> Metrics:
    full_speed, at_10k, sustained, at_1k = (
        runs.full_speed,
        runs.at_10k,
        runs.sustained,
        runs.at_1k,
    )
    kit_runs = (
        full_speed,
        runs.one_process,
        at_10k,
        sustained,
        at_1k,
        runs.staged,
        runs.other_full_speed,
        runs.other_at_10k,
    )
    rate = "events/s"
    cpu = "µs/event"
    return {
        **_transport_metrics(DEFAULT_TRANSPORT, runs.baseline, full_speed, at_10k),
        **_transport_metrics(
            OTHER_TRANSPORT, runs.baseline, runs.other_full_speed, runs.other_at_10k
        ),
        # The four metrics ARCHITECTURE.md requires: full-speed throughput (production's layout:
        # producing and consuming service in two processes), latency at 10k/s offered, and
        # every produced event stored exactly once over all runs.
        "events_per_s": metric(
            round(full_speed.events_per_s, 1), rate, better="higher", target=TARGET_EVENTS_PER_S
        ),
        "e2e_latency_p50_ms": metric(at_10k.p(at_10k.e2e_ms, 50), "ms", better="lower"),
        "e2e_latency_p99_ms": metric(
            at_10k.p(at_10k.e2e_ms, 99), "ms", better="lower", target=TARGET_P99_MS
        ),
        "lost_events": metric(sum(r.lost for r in kit_runs), "events", better="lower", target=0),
        "duplicate_events": metric(
            sum(r.duplicates + r.unexpected for r in kit_runs), "events", better="lower", target=0
        ),
        # Same-run baseline: plain nats-py JetStream publish → pull consume of the same
        # envelopes, in the same layout.
        "baseline_raw_js_events_per_s": metric(
            round(runs.baseline.events_per_s, 1), rate, better="higher"
        ),
        "ratio_vs_raw_js": metric(
            ratio(full_speed.events_per_s, runs.baseline.events_per_s), "ratio", better="higher"
        ),
        # Everything in one process, and its own baseline.
        "events_per_s_one_process": metric(
            round(runs.one_process.events_per_s, 1), rate, better="higher"
        ),
        "baseline_raw_js_events_per_s_one_process": metric(
            round(runs.baseline_one.events_per_s, 1), rate, better="higher"
        ),
        "ratio_vs_raw_js_one_process": metric(
            ratio(runs.one_process.events_per_s, runs.baseline_one.events_per_s),
            "ratio",
            better="higher",
        ),
        # Where the CPU goes at full speed (steadier than wall time on a shared machine).
        "cpu_us_per_event_python": metric(
            full_speed.cpu_us_per_event("python_total"), cpu, better="lower"
        ),
        "cpu_us_per_event_python_producer_relay": metric(
            full_speed.cpu_us_per_event("python"), cpu, better="lower"
        ),
        "cpu_us_per_event_python_consumer": metric(
            full_speed.cpu_us_per_event("python_consumer"), cpu, better="lower"
        ),
        "cpu_us_per_event_postgres": metric(
            full_speed.cpu_us_per_event("postgres"), cpu, better="lower"
        ),
        "cpu_us_per_event_nats": metric(full_speed.cpu_us_per_event("nats"), cpu, better="lower"),
        "cpu_us_per_event_python_one_process": metric(
            runs.one_process.cpu_us_per_event("python"), cpu, better="lower"
        ),
        "baseline_raw_js_cpu_us_per_event_python": metric(
            runs.baseline.cpu_us_per_event("python_total"), cpu, better="lower"
        ),
        "e2e_latency_p99_ms_full_speed": metric(
            full_speed.p(full_speed.e2e_ms, 99), "ms", better="lower"
        ),
        # The 10k/s run: what was offered and delivered, and where its latency is spent.
        "latency_run_offered_events_per_s": metric(
            round(at_10k.offered_per_s, 1), rate, better="higher", target=TARGET_EVENTS_PER_S
        ),
        "latency_run_delivered_events_per_s": metric(
            round(at_10k.events_per_s, 1), rate, better="higher", target=TARGET_EVENTS_PER_S
        ),
        "stage_producer_commit_p99_ms": metric(
            at_10k.p(at_10k.producer_commit_ms, 99), "ms", better="lower"
        ),
        "stage_relay_to_handler_p99_ms": metric(
            at_10k.p(at_10k.relay_to_handler_ms, 99), "ms", better="lower"
        ),
        "stage_consumer_commit_p99_ms": metric(
            at_10k.p(at_10k.consumer_commit_ms, 99), "ms", better="lower"
        ),
        # A sustainable rate (a fraction of the full speed measured in this run).
        "sustained_rate_offered_events_per_s": metric(
            round(sustained.offered_per_s, 1), rate, better="higher"
        ),
        "sustained_rate_delivered_events_per_s": metric(
            round(sustained.events_per_s, 1), rate, better="higher"
        ),
        "e2e_latency_p50_ms_sustained": metric(
            sustained.p(sustained.e2e_ms, 50), "ms", better="lower"
        ),
        "e2e_latency_p99_ms_sustained": metric(
            sustained.p(sustained.e2e_ms, 99), "ms", better="lower", target=TARGET_P99_MS
        ),
        # Each stage alone (the others stopped): its Python CPU per event and its speed.
        **{
            f"{stage}_alone_{name}": item
            for stage in ("producer", "relay", "consumer")
            for name, item in (
                (
                    "events_per_s",
                    metric(runs.staged.stage_events_per_s(stage), rate, better="higher"),
                ),
                (
                    "cpu_us_per_event_python",
                    metric(runs.staged.stage_cpu_us_per_event(stage), cpu, better="lower"),
                ),
            )
        },
        # Light load: 1k events/s offered.
        "e2e_latency_p50_ms_at_1k": metric(at_1k.p(at_1k.e2e_ms, 50), "ms", better="lower"),
        "e2e_latency_p99_ms_at_1k": metric(at_1k.p(at_1k.e2e_ms, 99), "ms", better="lower"),
    }


def _transport_metrics(
    name: TransportName, baseline: Baseline, full_speed: RunStats, at_10k: RunStats
) -> Metrics:
    """One transport's figures (``transport_<name>_*``), against the same run's raw JetStream;
    the kit's other metrics are of the default transport."""
    runs = (full_speed, at_10k)
    cpu = "µs/event"
    return {
        f"transport_{name}_{key}": item
        for key, item in (
            (
                "events_per_s",
                metric(round(full_speed.events_per_s, 1), "events/s", better="higher"),
            ),
            (
                "ratio_vs_raw_js",
                metric(
                    ratio(full_speed.events_per_s, baseline.events_per_s), "ratio", better="higher"
                ),
            ),
            ("e2e_latency_p50_ms", metric(at_10k.p(at_10k.e2e_ms, 50), "ms", better="lower")),
            ("e2e_latency_p99_ms", metric(at_10k.p(at_10k.e2e_ms, 99), "ms", better="lower")),
            (
                "e2e_latency_p99_ms_full_speed",
                metric(full_speed.p(full_speed.e2e_ms, 99), "ms", better="lower"),
            ),
            ("lost_events", metric(sum(r.lost for r in runs), "events", better="lower", target=0)),
            (
                "duplicate_events",
                metric(
                    sum(r.duplicates + r.unexpected for r in runs),
                    "events",
                    better="lower",
                    target=0,
                ),
            ),
            (
                "cpu_us_per_event_python",
                metric(full_speed.cpu_us_per_event("python_total"), cpu, better="lower"),
            ),
            (
                "cpu_us_per_event_python_producer_relay",
                metric(full_speed.cpu_us_per_event("python"), cpu, better="lower"),
            ),
            (
                "cpu_us_per_event_python_consumer",
                metric(full_speed.cpu_us_per_event("python_consumer"), cpu, better="lower"),
            ),
            (
                "cpu_us_per_event_nats",
                metric(full_speed.cpu_us_per_event("nats"), cpu, better="lower"),
            ),
        )
    }


def run(*, quick: bool) -> Metrics:
    # ERROR: closing a Bus logs a "bus.disconnected" warning, which is expected here.
    configure_logging("bench", "ERROR", as_json=False)
    configure_tracing("bench", "none", None)  # spans are created as in a service, not exported
    sizes = QUICK if quick else FULL
    worker = ConsumerProcess()
    try:
        return run_async(lambda: _main(sizes, worker))
    finally:
        worker.close()
