"""dora: DORA metrics from a generated history, through the real gateway and metrics-collector.

Private NATS (JetStream) and a durable PostgreSQL (fsync on); ``python -m metrics_collector``
and ``python -m gateway`` run as subprocesses, as ``cortex up`` runs them; the load comes from
this process over HTTP with an admin key, like a CI pipeline or a dashboard.

1. **History**: ``benchmarks.dora_history`` COPYs the facts of one agency over 365 days (full:
   1,000,000 deployments, 5,000,000 changes, 100,000 incidents over 200 services; quick: 1 %)
   into the collector's tables, as if it had consumed them.
2. **Cold load**: the first query loads the agency into the collector's cache (every merged
   fact, then one snapshot per slice): ``cold_load_s``, and the collector's memory after it.
3. **Queries** (sequential, warm cache): one service over the last 90 days, each query another
   service (``query_p95_ms_service``); org-wide, every service, 90 days (``query_p95_ms_org``);
   and org-wide with weekly buckets. **Baseline, same run**: the same one-service query
   without the in-memory snapshots — read the service's facts from PostgreSQL (with an index on
   ``(agency, service)``) and compute the report with the same domain code, here in this process
   (no HTTP: a flattering baseline); ``speedup_vs_uncached_service`` is its p95 over ours.
4. **Freshness**: one deployment ``POST /v1/events`` at a time, then ``GET /v1/metrics/dora`` for
   a window holding only it, every 5 ms, until it is counted: POST sent → first answer counting
   it (gateway outbox → NATS → collector → PostgreSQL → cache poll → slice rebuild → query).
5. **Ingest**: batches of 1,000 events (a deployment, 4 changes, sometimes an incident, spread
   over every service) from 4 concurrent senders into the loaded agency; events per second
   from the first POST until the collector has stored them all (every envelope the gateway
   answered with is in the collector's inbox, committed with its facts), while its cache keeps
   rebuilding the touched slices; then how long until an org-wide query counts them all.
6. **Ingest via NATS**: envelopes published straight to JetStream, as a service's outbox relay
   publishes them, until the collector's inbox holds them all: ``DeliveryBatch`` envelopes of
   500 events (a deployment and four changes per service in turn), then one
   ``DeploymentFinished`` per envelope, as the rollout orchestrator publishes finished rollouts.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; pyproject lists no override
import httpx
import nats
import psutil
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from benchmarks import dora_history
from benchmarks.common import (
    CpuMeter,
    Metrics,
    embedded_servers,
    interpolated_percentile,
    metric,
    ratio,
    run_async,
    service_process,
)
from benchmarks.dora_history import AGENCY, History
from cortex_contracts import (
    ChangeRecorded,
    DeliveryBatch,
    DeliveryEvent,
    DeploymentFinished,
    DeploymentRecorded,
    DeploymentStatus,
    RolloutStatus,
    encode,
    pack,
    subject_for,
)
from cortex_kit.db import Database
from cortex_kit.migrations import upgrade_to_head
from cortex_kit.testing.internal import TEST_SECRETS_KEY, signed
from cortex_kit.web import AGENCY_HEADER
from metrics_collector.domain.metrics.calculators import (
    Change,
    Deployment,
    Incident,
    Window,
    dora_report,
    fact_from_stored,
)

DATABASE = "bench"
ADMIN_KEY = "cvc_0123456789ab_" + "B" * 43
DAY_S = 86_400.0
MIGRATIONS = Path(__file__).resolve().parents[1] / "services/metrics_collector/migrations"


@dataclass(frozen=True)
class Sizes:
    deployments: int
    changes: int
    incidents: int
    service_queries: int
    org_queries: int
    baseline_queries: int
    freshness_samples: int
    ingest_events: int
    services: int = 200
    history_days: int = 365
    ingest_batch: int = 1000
    ingest_senders: int = 4
    nats_batch_events: int = 100_000  # in DeliveryBatch envelopes of NATS_BATCH
    nats_single_events: int = 50_000  # one DeploymentFinished per envelope


FULL = Sizes(1_000_000, 5_000_000, 100_000, 200, 20, 20, 50, 100_000)
QUICK = Sizes(
    10_000,
    50_000,
    1_000,
    50,
    10,
    10,
    20,
    10_000,
    nats_batch_events=10_000,
    nats_single_events=5_000,
)
NATS_BATCH = 500


def _log(message: str) -> None:
    print(f"[dora] {message}", file=sys.stderr, flush=True)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _ms(values: list[float], q: float) -> float:
    return round(interpolated_percentile(values, q), 2)


# --- processes ----------------------------------------------------------------------------


# --- measurements -------------------------------------------------------------------------


async def _timed_get(client: httpx.AsyncClient, params: dict[str, str]) -> tuple[float, Any]:
    started = time.perf_counter()
    resp = await client.get("/v1/metrics/dora", params={"agency": AGENCY, **params})
    elapsed = (time.perf_counter() - started) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"GET /v1/metrics/dora {params}: {resp.status_code} {resp.text[:500]}")
    return elapsed, resp.json()


async def _cold_load(collector: str, params: dict[str, str]) -> float:
    headers = {AGENCY_HEADER: AGENCY}
    async with httpx.AsyncClient(
        headers=headers, auth=signed(), timeout=httpx.Timeout(3600.0)
    ) as raw:
        started = time.perf_counter()
        resp = await raw.get(f"{collector}/v1/metrics/dora", params=params)
        elapsed = (time.perf_counter() - started) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"cold load: {resp.status_code} {resp.text[:500]}")
    return elapsed


async def _latencies(
    client: httpx.AsyncClient, queries: list[dict[str, str]]
) -> tuple[list[float], Any]:
    times, last = [], None
    for params in queries:
        elapsed, last = await _timed_get(client, params)
        times.append(elapsed)
    return times, last


def _last_days(now: datetime, days: int) -> dict[str, str]:
    return {"from": _iso(now - timedelta(days=days)), "to": _iso(now)}


async def _uncached(dsn: str, h: History, now: datetime, n: int) -> list[float]:
    """The baseline: per query, read one service's facts and compute its report."""
    conn = await asyncpg.connect(dsn)
    times = []
    try:
        await conn.execute(
            "CREATE INDEX IF NOT EXISTS bench_events_service "
            "ON metrics.delivery_events (agency, service)"
        )
        window = Window(now - timedelta(days=90), now)
        for k in range(n):
            started = time.perf_counter()
            rows = await conn.fetch(
                "SELECT kind, event_id, occurred_at, facts::text AS facts "
                "FROM metrics.delivery_events WHERE agency = $1 AND service = $2",
                AGENCY,
                h.service(k * 37 % h.services),
            )
            facts = [
                fact_from_stored(
                    r["kind"],
                    _json(r["facts"]),
                    event_id=r["event_id"],
                    occurred_at=r["occurred_at"],
                )
                for r in rows
            ]
            dora_report(
                [f for f in facts if isinstance(f, Change)],
                [f for f in facts if isinstance(f, Deployment)],
                [f for f in facts if isinstance(f, Incident)],
                window,
                environment="production",
            )
            times.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    return times


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value


async def _freshness(client: httpx.AsyncClient, h: History, samples: int) -> list[float]:
    times = []
    for k in range(samples):
        finished = datetime.now(UTC)
        service = h.service(k * 7 % h.services)
        event = {
            "type": "deployment",
            "id": f"fresh-{k}",
            "service": service,
            "environment": "production",
            "status": "succeeded",
            "started_at": _iso(finished - timedelta(minutes=5)),
            "finished_at": _iso(finished),
        }
        window = {
            "service": service,
            "from": _iso(finished - timedelta(seconds=1)),
            "to": _iso(finished + timedelta(seconds=1)),
        }
        started = time.perf_counter()
        resp = await client.post("/v1/events", json={"agency": AGENCY, "events": [event]})
        if resp.status_code != 202:
            raise RuntimeError(f"POST /v1/events: {resp.status_code} {resp.text[:300]}")
        while True:
            _, report = await _timed_get(client, window)
            if report["deployment_frequency"]["count"] == 1:
                break
            if time.perf_counter() - started > 30:
                raise RuntimeError(f"fresh-{k} not visible after 30 s")
            await asyncio.sleep(0.005)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _ingest_batch(h: History, batch_no: int, size: int, now: datetime) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    k = 0
    while len(events) < size:
        n = batch_no * size + len(events)
        service = h.service((batch_no * 31 + k) % h.services)
        k += 1
        for c in range(4):
            sha = f"{0xFFFF:04x}{n + c:036x}"
            events.append(
                {
                    "type": "change",
                    "id": sha,
                    "commit_sha": sha,
                    "service": service,
                    "committed_at": _iso(now - timedelta(minutes=30 - c)),
                }
            )
        events.append(
            {
                "type": "deployment",
                "id": f"ing-{n}",
                "service": service,
                "environment": "production",
                "status": "succeeded",
                "started_at": _iso(now - timedelta(minutes=10)),
                "finished_at": _iso(now - timedelta(minutes=5)),
            }
        )
        if n % 50 == 0:
            events.append(
                {
                    "type": "incident",
                    "id": f"ing-i{n}",
                    "service": service,
                    "opened_at": _iso(now - timedelta(minutes=2)),
                }
            )
    return events[:size]


async def _wait_stored(conn: Any, envelopes: Iterable[str], what: str, poll_s: float) -> None:
    """Until the collector has consumed every one of these envelopes (inbox rows are committed
    with the facts they carry, so a consumed envelope's events are all stored); each poll asks
    only for those still missing."""
    waiting = set(envelopes)
    deadline = time.perf_counter() + 900
    while waiting:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{what}: {len(waiting)} envelopes not stored after 900 s")
        await asyncio.sleep(poll_s)
        found = await conn.fetch(
            "SELECT msg_id FROM metrics.inbox WHERE msg_id = ANY($1::text[])", list(waiting)
        )
        waiting -= {r[0] for r in found}


@dataclass(frozen=True)
class Ingest:
    events: int
    deployments: int
    accept_s: float
    stored_s: float
    visible_after_s: float
    cpu_s: dict[str, float]  # per process, first POST → all stored

    def cpu_us_per_event(self, process: str) -> float:
        return round(self.cpu_s.get(process, 0.0) / self.events * 1e6, 1)


async def _ingest(
    client: httpx.AsyncClient, dsn: str, h: History, sizes: Sizes, cpu: CpuMeter
) -> Ingest:
    now = datetime.now(UTC)
    batches = [
        _ingest_batch(h, b, sizes.ingest_batch, now)
        for b in range(sizes.ingest_events // sizes.ingest_batch)
    ]
    total = sum(len(b) for b in batches)
    deployments = sum(1 for b in batches for e in b if e["type"] == "deployment")
    conn = await asyncpg.connect(dsn)
    try:
        queue = list(reversed(batches))
        envelopes: set[str] = set()

        async def sender() -> None:
            while queue:
                resp = await client.post(
                    "/v1/events", json={"agency": AGENCY, "events": queue.pop()}
                )
                if resp.status_code != 202:
                    raise RuntimeError(f"POST /v1/events: {resp.status_code} {resp.text[:300]}")
                # "<envelope id>/<n>" for the events of a batch envelope.
                envelopes.update(e["envelope_id"].split("/")[0] for e in resp.json()["events"])

        cpu.start()
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(sizes.ingest_senders)))
        accepted = time.perf_counter()
        await _wait_stored(conn, envelopes, "REST ingest", 0.05)
        stored = time.perf_counter()
        cpu_s = cpu.stop()
    finally:
        await conn.close()
    _log(
        f"ingest: {total:,} events accepted in {accepted - started:.1f} s, stored in "
        f"{stored - started:.1f} s ({total / (stored - started):,.0f} events/s); CPU s "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu_s.items())
    )
    window = {"from": _iso(now - timedelta(minutes=11)), "to": _iso(now)}
    while True:
        report = await _visible(client, window)
        if report and report["deployment_frequency"]["count"] >= deployments:
            break
        if time.perf_counter() - stored > 1800:
            raise RuntimeError("ingested deployments not all visible after 1800 s")
        await asyncio.sleep(0.1)
    return Ingest(
        total,
        deployments,
        accepted - started,
        stored - started,
        time.perf_counter() - stored,
        cpu_s,
    )


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _nats_batches(h: History, events: int, now: datetime) -> list[Message]:
    """DeliveryBatch payloads: per service in turn, a deployment and four changes."""
    items: list[DeliveryEvent] = []
    for n in range(events // 5):
        service = h.service(n % h.services)
        for c in range(4):
            sha = f"{0xEEEE:04x}{n * 4 + c:036x}"
            change = ChangeRecorded(
                event_id=sha,
                commit_sha=sha,
                service=service,
                committed_at=_stamp(now - timedelta(minutes=30 - c)),
            )
            items.append(DeliveryEvent(change=change))
        deployment = DeploymentRecorded(
            deployment_id=f"nb-{n}",
            service=service,
            environment="production",
            status=DeploymentStatus.DEPLOYMENT_STATUS_SUCCEEDED,
            started_at=_stamp(now - timedelta(minutes=10)),
            finished_at=_stamp(now - timedelta(minutes=5)),
        )
        items.append(DeliveryEvent(deployment=deployment))
    return [
        DeliveryBatch(events=items[i : i + NATS_BATCH]) for i in range(0, len(items), NATS_BATCH)
    ]


def _rollouts(h: History, events: int, now: datetime) -> list[Message]:
    """DeploymentFinished payloads, as the rollout orchestrator publishes them (one each)."""
    return [
        DeploymentFinished(
            deployment_id=f"nr-{n}",
            agency=AGENCY,
            service=h.service(n % h.services),
            environment="production",
            status=RolloutStatus.ROLLOUT_STATUS_SUCCEEDED,
            started_at=_stamp(now - timedelta(minutes=10)),
            finished_at=_stamp(now - timedelta(minutes=5)),
        )
        for n in range(events)
    ]


@dataclass(frozen=True)
class NatsIngest:
    events: int
    envelopes: int
    seconds: float


async def _ingest_nats(nats_url: str, dsn: str, payloads: list[Message], events: int) -> NatsIngest:
    """Publish envelopes straight to JetStream (as a service's outbox relay does, with
    ``Nats-Msg-Id``) and time until the collector's inbox holds every one of them."""
    envelopes = [pack(p, agency=AGENCY, source="bench") for p in payloads]
    subjects = [subject_for(p, AGENCY) for p in payloads]
    wire = [encode(e) for e in envelopes]
    ids = [e.id for e in envelopes]
    nc = await nats.connect(nats_url)
    conn = await asyncpg.connect(dsn)
    try:
        js = nc.jetstream(publish_async_max_pending=2000)
        started = time.perf_counter()
        acks = [
            await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id})
            for subject, data, msg_id in zip(subjects, wire, ids, strict=True)
        ]
        await asyncio.gather(*acks)
        await _wait_stored(conn, ids, "NATS ingest", 0.1)
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
        await nc.close()
    _log(
        f"NATS ingest: {events:,} events in {len(ids):,} envelopes stored in {seconds:.1f} s "
        f"({events / seconds:,.0f} events/s)"
    )
    return NatsIngest(events, len(ids), seconds)


async def _visible(client: httpx.AsyncClient, params: dict[str, str]) -> Any:
    """The report, or None while the gateway times out on a collector busy rebuilding."""
    resp = await client.get("/v1/metrics/dora", params={"agency": AGENCY, **params})
    return resp.json() if resp.status_code == 200 else None


async def _phase(name: str, work: Callable[[], Awaitable[Any]]) -> Any:
    _log(f"{name} …")
    started = time.perf_counter()
    result = await work()
    _log(f"{name}: {time.perf_counter() - started:.1f} s")
    return result


# --- the suite ----------------------------------------------------------------------------


async def _main(sizes: Sizes) -> Metrics:
    with embedded_servers(durable=True) as servers:
        servers.postgres.ensure_database(DATABASE)
        url = servers.postgres.url(DATABASE)
        dsn = url.replace("+asyncpg", "")
        db = Database(url)
        await upgrade_to_head(db, MIGRATIONS, "metrics")
        await db.dispose()
        end = time.time() - 3600
        h = History(
            sizes.services,
            sizes.deployments,
            sizes.changes,
            sizes.incidents,
            end - sizes.history_days * DAY_S,
            end,
        )
        copy_started = time.perf_counter()
        facts = await _phase("history COPY", lambda: dora_history.write(dsn, h))
        copy_s = time.perf_counter() - copy_started
        common = {"DATABASE_URL": url, "NATS_URL": servers.nats.url}
        async with (
            service_process(
                "metrics_collector",
                "CORTEX_METRICS_COLLECTOR_",
                {**common, "DORA_WARM_ON_START": "false"},
                servers.root / "metrics-collector.log",
            ) as collector,
            service_process(
                "gateway",
                "CORTEX_GATEWAY_",
                {
                    **common,
                    "METRICS_COLLECTOR_URL": collector.url,
                    "BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
                    "SECRETS_KEY": TEST_SECRETS_KEY,
                    # The suite measures ingestion, not one key's rate limit.
                    "RATE_LIMIT_ENABLED": "false",
                },
                servers.root / "gateway.log",
            ) as gateway,
            httpx.AsyncClient(
                base_url=gateway.url,
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                timeout=httpx.Timeout(600.0),
            ) as client,
        ):
            now = datetime.now(UTC)
            ninety = _last_days(now, 90)
            # Straight to the collector: the gateway gives up on a service after 10 s.
            cold_ms = await _phase("cold load", lambda: _cold_load(collector.url, ninety))
            rss_mb = psutil.Process(collector.pid).memory_info().rss / 2**20
            _log(f"collector RSS {rss_mb:,.0f} MB after loading {facts:,} facts")
            service_queries = [
                {**ninety, "service": h.service(k * 37 % h.services)}
                for k in range(sizes.service_queries)
            ]
            service_ms, sample = await _phase(
                "service queries", lambda: _latencies(client, service_queries)
            )
            _log(
                f"one service, 90 days: {sample['deployment_frequency']['count']} deployments, "
                f"{sample['lead_time']['n']} lead times"
            )
            _log(f"service p50 {_ms(service_ms, 50)} ms, p95 {_ms(service_ms, 95)} ms")
            org_ms, org = await _phase(
                "org queries", lambda: _latencies(client, [ninety] * sizes.org_queries)
            )
            _log(
                f"org-wide, 90 days: {org['deployment_frequency']['count']:,} deployments, "
                f"{org['lead_time']['n']:,} lead times"
            )
            _log(f"org p50 {_ms(org_ms, 50)} ms, p95 {_ms(org_ms, 95)} ms")
            weekly = {**ninety, "bucket": "week"}
            weekly_ms, _ = await _phase(
                "org weekly queries", lambda: _latencies(client, [weekly] * sizes.org_queries)
            )
            _log(f"org weekly p95 {_ms(weekly_ms, 95)} ms")
            baseline_ms = await _phase(
                "uncached baseline", lambda: _uncached(dsn, h, now, sizes.baseline_queries)
            )
            _log(f"uncached baseline p50 {_ms(baseline_ms, 50)} ms, p95 {_ms(baseline_ms, 95)} ms")
            fresh_ms = await _phase(
                "freshness", lambda: _freshness(client, h, sizes.freshness_samples)
            )
            _log(f"freshness p50 {_ms(fresh_ms, 50)} ms, p99 {_ms(fresh_ms, 99)} ms")
            cpu = CpuMeter(
                {
                    "collector": collector.pid,
                    "gateway": gateway.pid,
                    "postgres": servers.postgres.pid,
                    "nats": servers.nats.pid,
                }
            )
            ingest = await _phase("ingest", lambda: _ingest(client, dsn, h, sizes, cpu))
            nats_now = datetime.now(UTC)
            nats_batched = await _phase(
                "NATS ingest, batch envelopes",
                lambda: _ingest_nats(
                    servers.nats.url,
                    dsn,
                    _nats_batches(h, sizes.nats_batch_events, nats_now),
                    sizes.nats_batch_events,
                ),
            )
            nats_single = await _phase(
                "NATS ingest, one rollout per envelope",
                lambda: _ingest_nats(
                    servers.nats.url,
                    dsn,
                    _rollouts(h, sizes.nats_single_events, nats_now),
                    sizes.nats_single_events,
                ),
            )
            rss_end_mb = psutil.Process(collector.pid).memory_info().rss / 2**20
    _log(
        f"ingest: {ingest.events:,} events accepted in {ingest.accept_s:.1f} s, stored in "
        f"{ingest.stored_s:.1f} s, all {ingest.deployments:,} deployments visible "
        f"{ingest.visible_after_s:.1f} s later"
    )
    service_p95 = _ms(service_ms, 95)
    baseline_p95 = _ms(baseline_ms, 95)
    return {
        "ingest_events_per_s": metric(
            round(ingest.events / ingest.stored_s, 1), "events/s", better="higher", target=10_000
        ),
        "ingest_nats_batch_events_per_s": metric(
            round(nats_batched.events / nats_batched.seconds, 1),
            "events/s",
            better="higher",
            target=10_000,
        ),
        "ingest_nats_single_events_per_s": metric(
            round(nats_single.events / nats_single.seconds, 1), "events/s", better="higher"
        ),
        "ingest_rest_accept_events_per_s": metric(
            round(ingest.events / ingest.accept_s, 1), "events/s", better="higher"
        ),
        "ingest_all_visible_after_stored_s": metric(
            round(ingest.visible_after_s, 2), "s", better="lower"
        ),
        **{
            f"ingest_cpu_us_per_event_{name}": metric(
                ingest.cpu_us_per_event(name), "µs/event", better="lower"
            )
            for name in ("collector", "gateway", "postgres", "nats", "python")
        },
        "freshness_p50_ms": metric(_ms(fresh_ms, 50), "ms", better="lower"),
        "freshness_p99_ms": metric(_ms(fresh_ms, 99), "ms", better="lower", target=1000),
        "query_p50_ms_service": metric(_ms(service_ms, 50), "ms", better="lower"),
        "query_p95_ms_service": metric(service_p95, "ms", better="lower", target=100),
        "query_p50_ms_org": metric(_ms(org_ms, 50), "ms", better="lower"),
        "query_p95_ms_org": metric(_ms(org_ms, 95), "ms", better="lower", target=500),
        "query_p95_ms_org_weekly_buckets": metric(_ms(weekly_ms, 95), "ms", better="lower"),
        "baseline_uncached_query_p95_ms_service": metric(baseline_p95, "ms", better="lower"),
        "speedup_vs_uncached_service": metric(
            ratio(baseline_p95, service_p95), "x", better="higher"
        ),
        "cold_load_s": metric(round(cold_ms / 1000, 2), "s", better="lower"),
        "collector_rss_mb_loaded": metric(round(rss_mb, 1), "MB", better="lower"),
        "collector_rss_mb_end": metric(round(rss_end_mb, 1), "MB", better="lower"),
        "history_facts": metric(float(facts), "facts", better="higher"),
        "history_copy_s": metric(round(copy_s, 1), "s", better="lower"),
    }


def run(*, quick: bool) -> Metrics:
    return run_async(lambda: _main(QUICK if quick else FULL))
