"""bus: producer → PostgreSQL outbox → OutboxRelay → JetStream → ConsumerRunner → PostgreSQL.

Everything runs in one uvloop process, as the kit wires it in a service, on a private NATS
(JetStream, file storage) and a private, durable PostgreSQL (fsync and synchronous commit on):

- the producer packs ``ChangeRecorded`` envelopes (``occurred_at`` = pack time) and stages them
  with ``add_to_outbox`` in ``Database.session()`` transactions, each of ``tx_size`` events;
- the kit's ``OutboxRelay`` (its own ``Database`` and ``Bus``, woken by the producer's commits)
  publishes them to ``CORTEX_DELIVERY`` with ``Nats-Msg-Id`` dedupe;
- the kit's ``ConsumerRunner`` (another ``Database`` and ``Bus``, as a separate service would
  have) claims each batch in its inbox and its handler decodes every envelope and inserts one
  row per event into ``received`` in the same transaction.

Latency of an event = the consumer's commit time (a ``Database.on_commit`` hook stamps the batch
with ``time.time()``) - the envelope's ``occurred_at``, computed from the stored rows. Throughput
= stored events / (first producer commit → last consumer commit). Every produced id must be
stored exactly once: ``lost_events`` and ``duplicate_events`` come from the table.

Runs, each on a fresh stream and fresh tables: the raw JetStream baseline (the same envelopes,
publish → pull consume, no PostgreSQL); the kit at full speed (``events_per_s``); the kit at an
offered rate of 10k events/s (the ``e2e_latency_*`` metrics, target p99 ≤ 250 ms; the producer
shares the process, so ``latency_run_offered_events_per_s`` says what it managed to offer); at
a light 1k events/s; and "staged": produce everything, then relay it, then consume it, each
stage alone, for each stage's own speed and CPU cost per event. CPU time (µs per event, of this
process, of PostgreSQL with its backends and of nats-server) is steadier than wall time on a
shared machine, and says where a gain or a regression lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    metric,
    percentile,
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
from cortex_kit.messaging.consumer import ConsumerRunner, ConsumerSpec, Delivery
from cortex_kit.messaging.outbox import OutboxRelay, PendingEvent, add_to_outbox
from cortex_kit.messaging.tables import messaging_tables
from cortex_kit.observability import configure_tracing

AGENCY = "acme"
SOURCE = "bench-producer"
SUBJECT = subject_for(ChangeRecorded(), AGENCY)
STREAM = stream_for(SUBJECT)
DATABASE = "bench"
TARGET_EVENTS_PER_S = 10_000.0
TARGET_P99_MS = 250.0
STALL_S = 20.0  # no consumer progress for this long after the producer finished → give up


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

    async def handle(self, session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
        self.batch_no += 1
        handled_at = time.time()
        rows = []
        for delivery in deliveries:
            envelope = decode(delivery.data)
            unpack(envelope, ChangeRecorded)
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

    def on_commit(self) -> None:
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
        return round(self.cpu_s.get(process, 0.0) / max(self.stored_rows, 1) * 1e6, 1)

    def stage_cpu_us_per_event(self, stage: str, process: str = "python") -> float:
        cost = self.stages[stage]
        return round(cost.cpu_s.get(process, 0.0) / max(self.produced, 1) * 1e6, 1)

    def stage_events_per_s(self, stage: str) -> float:
        return round(self.produced / self.stages[stage].seconds, 1)

    def p(self, values: list[float], q: float) -> float:
        return round(percentile(values, q), 2) if values else 0.0

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
            f"    CPU µs/event: "
            + ", ".join(f"{name} {self.cpu_us_per_event(name):.0f}" for name in self.cpu_s)
            + "".join(
                f"\n    {stage} alone: {self.stage_events_per_s(stage):,.0f}/s, CPU µs/event "
                + ", ".join(
                    f"{name} {self.stage_cpu_us_per_event(stage, name):.0f}" for name in cost.cpu_s
                )
                for stage, cost in self.stages.items()
            )
        )


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ scenarios


class Bench:
    def __init__(self, servers: Servers, sizes: Sizes) -> None:
        self.servers = servers
        self.sizes = sizes
        self.url = servers.postgres.url(DATABASE)
        self.nats_url = servers.nats.url

    def cpu_meter(self) -> CpuMeter:
        return CpuMeter({"postgres": self.servers.postgres.pid, "nats": self.servers.nats.pid})

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
        consumer_meta = MetaData(schema=f"{label}_consumer")
        outbox = messaging_tables(producer_meta).outbox
        inbox = messaging_tables(consumer_meta).inbox
        received = Table(
            "received",
            consumer_meta,
            Column("id", BigInteger, Identity(), primary_key=True),
            Column("event_id", Text, nullable=False),
            Column("occurred_at_s", Double, nullable=False),
            Column("handled_at_s", Double, nullable=False),
            Column("batch_no", Integer, nullable=False),
        )
        engine = create_async_engine(self.url)
        try:
            async with engine.begin() as conn:
                for meta in (producer_meta, consumer_meta):
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
    ) -> RunStats:
        sizes = self.sizes
        await self.reset_streams()
        outbox, inbox, received = await self.create_tables(label)
        producer_db = Database(self.url, pool_size=sizes.pool_size, application_name=SOURCE)
        consumer_db = Database(self.url, pool_size=sizes.pool_size, application_name="bench-c")
        producer_bus = Bus(self.nats_url, name=SOURCE)
        consumer_bus = Bus(self.nats_url, name="bench-consumer")
        await producer_bus.connect()
        await consumer_bus.connect()
        probe = Probe(received)
        consumer_db.on_commit(probe.on_commit)
        relay = OutboxRelay(
            producer_db,
            producer_bus,
            outbox,
            service=SOURCE,
            batch_size=sizes.outbox_batch_size,
            poll_interval_s=sizes.outbox_poll_interval_s,
        )
        consumer = ConsumerRunner(
            consumer_db,
            consumer_bus,
            inbox,
            ConsumerSpec(
                name=f"bench-{label}",
                stream=STREAM.name,
                filter_subjects=[subject_filter("delivery")],
                handler=probe.handle,
                batch_size=sizes.consumer_batch_size,
            ),
            service="bench-consumer",
        )
        produced = Produced()
        meter = self.cpu_meter()
        stages: dict[str, Stage] = {}
        try:
            await consumer.declare()
            # Warm both pools so the first producer commit does not pay for connecting.
            await producer_db.ping()
            await consumer_db.ping()
            meter.start()
            if staged:
                # One stage at a time: what each costs alone, and how fast it goes alone.
                async def producing() -> None:
                    await produce(producer_db, outbox, produced, total=total, tx_size=tx_size)

                async def relaying() -> None:
                    relay.start()
                    await _wait_published(producer_bus, total)

                async def consuming() -> None:
                    consumer.start()
                    await _wait_consumed(probe, total)

                for name, step in (
                    ("producer", producing),
                    ("relay", relaying),
                    ("consumer", consuming),
                ):
                    stage_meter = self.cpu_meter()
                    stage_meter.start()
                    started = time.perf_counter()
                    await step()
                    stages[name] = Stage(time.perf_counter() - started, stage_meter.stop())
            else:
                relay.start()
                consumer.start()
                await produce(
                    producer_db, outbox, produced, total=total, tx_size=tx_size, rate=rate
                )
                await _wait_consumed(probe, total)
            cpu = meter.stop()
        finally:
            await asyncio.gather(consumer.stop(), relay.stop())
            await producer_bus.close()
            await consumer_bus.close()
            await producer_db.dispose()
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
        return _stats(label, produced, probe, [tuple(r) for r in rows], cpu, stages)


async def produce(
    db: Database,
    outbox: Table,
    produced: Produced,
    *,
    total: int,
    tx_size: int,
    rate: float | None = None,
) -> None:
    """Open-loop producer: transaction k starts at ``start + k·tx_size/rate`` (or at once)."""
    start = time.time()
    count = 0
    while count < total:
        n = min(tx_size, total - count)
        if rate is not None:
            delay = start + count / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        async with db.session() as session:
            events = [PendingEvent(SUBJECT, _envelope(count + k)) for k in range(n)]
            await add_to_outbox(session, outbox, events)
        committed = time.time()
        if not produced.ids:
            produced.first_commit = committed
        produced.last_commit = committed
        for event in events:
            produced.ids.append(event.envelope.id)
            produced.commit_at[event.envelope.id] = committed
        count += n


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
    probe: Probe,
    rows: list[tuple[str, float, float, int]],
    cpu_s: dict[str, float],
    stages: dict[str, Stage],
) -> RunStats:
    ids = {row[0] for row in rows}
    expected = set(produced.ids)
    e2e, producer_commit, relay_to_handler, consumer_commit = [], [], [], []
    last_commit = 0.0
    for event_id, occurred, handled, batch_no in rows:
        committed = probe.commit_at.get(batch_no)
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
        return round(self.cpu_s.get(process, 0.0) / max(self.consumed, 1) * 1e6, 1)


async def raw_js_baseline(bench: Bench, total: int, batch_size: int) -> Baseline:
    """Plain nats-py: publish_async the same envelopes, a durable pull consumer acks them."""
    await bench.reset_streams()
    publisher = await nats.connect(bench.nats_url, pending_size=64 * 1024 * 1024)
    subscriber = await nats.connect(bench.nats_url, pending_size=64 * 1024 * 1024)
    try:
        pub_js = publisher.jetstream(publish_async_max_pending=4000)  # as the kit's Bus
        sub_js = subscriber.jetstream()
        await sub_js.add_consumer(
            STREAM.name,
            ConsumerConfig(
                durable_name="raw-baseline",
                ack_policy=AckPolicy.EXPLICIT,
                filter_subject=subject_filter("delivery"),
                max_ack_pending=max(1000, batch_size * 4),  # as ConsumerRunner declares it
            ),
        )
        sub = await sub_js.pull_subscribe_bind("raw-baseline", stream=STREAM.name)
        seen: set[str] = set()
        last = 0.0

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

        meter = bench.cpu_meter()
        meter.start()
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
        try:
            await asyncio.wait_for(consumer, timeout=STALL_S + total / 1000)
        except TimeoutError:
            _log(f"[raw_js] consumer stalled at {len(seen)}/{total} events")
        cpu = meter.stop()
        await subscriber.flush()
        baseline = Baseline(
            events_per_s=len(seen) / (last - start) if last > start else 0.0,
            consumed=len(seen),
            not_acknowledged=sum(isinstance(a, BaseException) for a in acks),
            cpu_s=cpu,
        )
        _log(
            f"[raw_js] published {total} ({baseline.not_acknowledged} not acknowledged), "
            f"consumed {len(seen)}, throughput {baseline.events_per_s:,.0f}/s\n"
            f"    CPU µs/event: "
            + ", ".join(f"{name} {baseline.cpu_us_per_event(name):.0f}" for name in cpu)
        )
        return baseline
    finally:
        await publisher.close()
        await subscriber.close()


# ------------------------------------------------------------------------------------ run


async def _main(sizes: Sizes) -> Metrics:
    with embedded_servers(durable=True) as servers:
        servers.postgres.ensure_database(DATABASE)
        bench = Bench(servers, sizes)
        _log(f"bus: NATS {servers.nats.url}, PostgreSQL port {servers.postgres.port} (durable)")
        baseline = await raw_js_baseline(bench, sizes.events, sizes.consumer_batch_size)
        full_speed = await bench.kit_run("max", total=sizes.events, tx_size=sizes.max_tx_size)
        _log(full_speed.describe())
        at_10k = await bench.kit_run(
            "rate10k",
            total=int(TARGET_EVENTS_PER_S * sizes.rate_duration_s),
            tx_size=sizes.rate_tx_size,
            rate=TARGET_EVENTS_PER_S,
        )
        _log(at_10k.describe())
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
    return _metrics(baseline, full_speed, at_10k, at_1k, staged)


def _metrics(
    baseline: Baseline, full_speed: RunStats, at_10k: RunStats, at_1k: RunStats, staged: RunStats
) -> Metrics:
    runs = (full_speed, at_10k, at_1k, staged)
    rate = "events/s"
    cpu = "µs/event"
    return {
        # The four metrics ARCHITECTURE.md requires: full-speed throughput, latency at 10k/s
        # offered, and every produced event stored exactly once over all runs.
        "events_per_s": metric(
            round(full_speed.events_per_s, 1), rate, better="higher", target=TARGET_EVENTS_PER_S
        ),
        "e2e_latency_p50_ms": metric(at_10k.p(at_10k.e2e_ms, 50), "ms", better="lower"),
        "e2e_latency_p99_ms": metric(
            at_10k.p(at_10k.e2e_ms, 99), "ms", better="lower", target=TARGET_P99_MS
        ),
        "lost_events": metric(sum(r.lost for r in runs), "events", better="lower", target=0),
        "duplicate_events": metric(
            sum(r.duplicates + r.unexpected for r in runs), "events", better="lower", target=0
        ),
        # Same-run baseline: plain JetStream publish → pull consume of the same envelopes.
        "baseline_raw_js_events_per_s": metric(
            round(baseline.events_per_s, 1), rate, better="higher"
        ),
        "ratio_vs_raw_js": metric(
            ratio(full_speed.events_per_s, baseline.events_per_s), "ratio", better="higher"
        ),
        # Where the CPU goes at full speed (steadier than wall time on a shared machine).
        "cpu_us_per_event_python": metric(
            full_speed.cpu_us_per_event("python"), cpu, better="lower"
        ),
        "cpu_us_per_event_postgres": metric(
            full_speed.cpu_us_per_event("postgres"), cpu, better="lower"
        ),
        "cpu_us_per_event_nats": metric(full_speed.cpu_us_per_event("nats"), cpu, better="lower"),
        "baseline_raw_js_cpu_us_per_event_python": metric(
            baseline.cpu_us_per_event("python"), cpu, better="lower"
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
        # Each stage alone (the others stopped): its Python CPU per event and its speed.
        **{
            f"{stage}_alone_{name}": item
            for stage in ("producer", "relay", "consumer")
            for name, item in (
                ("events_per_s", metric(staged.stage_events_per_s(stage), rate, better="higher")),
                (
                    "cpu_us_per_event_python",
                    metric(staged.stage_cpu_us_per_event(stage), cpu, better="lower"),
                ),
            )
        },
        # Light load: 1k events/s offered.
        "e2e_latency_p50_ms_at_1k": metric(at_1k.p(at_1k.e2e_ms, 50), "ms", better="lower"),
        "e2e_latency_p99_ms_at_1k": metric(at_1k.p(at_1k.e2e_ms, 99), "ms", better="lower"),
    }


def run(*, quick: bool) -> Metrics:
    # ERROR: closing a Bus logs a "bus.disconnected" warning, which is expected here.
    configure_logging("bench", "ERROR", as_json=False)
    configure_tracing("bench", "none", None)  # spans are created as in a service, not exported
    sizes = QUICK if quick else FULL
    return run_async(lambda: _main(sizes))
