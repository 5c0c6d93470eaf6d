"""approvals: the approval workflow's decision path, its list, and its timers under load.

Private NATS (JetStream) and a durable PostgreSQL (fsync on); two replicas of
``python -m approval_workflow`` run as subprocesses on the same database, as ``cortex up`` (or
a Deployment with two pods) runs them; the load comes from this process over HTTP, signed as
the gateway signs.

1. **List** (``list_p95_ms_100k``): 100,000 requests (quick: 10,000) over 10 agencies, bulk
   loaded with ``COPY`` (every status; 40 % pending), then ``GET /v1/approvals`` of one agency
   filtered by status (pending or granted, alternately), first pages and second pages (with
   the cursor), 50 items each, one at a time. **Baseline, same run, same process**: ``GET
   /healthz`` (``list_vs_healthz_p95_ratio``).
2. **Decide → event** (``decide_to_event_p99_ms``): per sample, a new request on replica A and
   a long-poll (``?wait=30``) for it on replica B; then the one approving decision posted to A,
   timed until both the ``approval.decided`` event arrived on NATS (outbox → relay → JetStream,
   heard by a core subscriber) and B's long-poll answered (woken by that broadcast): the slower
   of the two. The decision's own HTTP answer is the baseline (``decide_to_event_vs_decide_
   http_p99_ratio``).
3. **Expiry** (``expiry_lateness_p99_ms_10k``): 10,000 requests (quick: 1,000) with their expiry
   timers, COPYed so that they fall due evenly over one minute (quick: 10 s) starting 20 s
   later, while both replicas reconcile (default 1 s interval). Lateness: when the
   ``approval.decided`` (expired) event arrived on NATS minus the timer's ``due_at`` — what a
   consumer sees, commit and relay included; the reconciler's own ``fired_at - due_at`` is
   reported beside it. ``timers_fired_twice``: requests with more than one ``approval.decided``
   staged in the outbox (each firing stages one), which must be 0; ``timers_lost``: timers
   still unfired at the end. **Burst**: as many again, all due at the same instant
   (``expiry_burst_*``): the reconciler's throughput, in batches of 1,000 per transaction
   shared by the two replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; pyproject lists no override
import httpx
import nats

from benchmarks.common import (
    Metrics,
    Process,
    embedded_servers,
    interpolated_percentile,
    metric,
    ratio,
    run_async,
    service_process,
)
from cortex_contracts import ApprovalDecided, decode, unpack
from cortex_kit.db import Database
from cortex_kit.migrations import upgrade_to_head
from cortex_kit.testing.internal import signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER, ROLES_HEADER

DATABASE = "bench"
MIGRATIONS = Path(__file__).resolve().parents[1] / "services/approval_workflow/migrations"
LISTED = "agency-0"  # the agency the list is timed on (a tenth of the rows)
LIVE = "live"  # the agency of the decision samples
TIMED = "timers"  # the agency of the expiring requests, due over a minute
BURST = "burst"  # the agency of the requests all due at the same instant
STATUSES = (
    ("pending",) * 8 + ("granted",) * 6 + ("rejected",) * 2 + ("expired",) * 3 + ("superseded",)
)
INPUT_HASH = "sha256:" + "ab" * 32


@dataclass(frozen=True)
class Sizes:
    stored: int
    agencies: int
    list_queries: int
    decisions: int
    timers: int
    timer_window_s: float
    timer_lead_s: float


FULL = Sizes(100_000, 10, 400, 200, 10_000, 60.0, 20.0)
QUICK = Sizes(10_000, 10, 60, 30, 1_000, 10.0, 10.0)


def _log(message: str) -> None:
    print(f"[approvals] {message}", file=sys.stderr, flush=True)


def _ms(values: list[float], q: float) -> float:
    return round(interpolated_percentile(values, q), 2)


# --- processes ----------------------------------------------------------------------------


def _replica(env: dict[str, str], log: Path) -> contextlib.AbstractAsyncContextManager[Process]:
    """``python -m approval_workflow`` configured by ``CORTEX_APPROVAL_WORKFLOW_*``, ready."""
    return service_process("approval_workflow", "CORTEX_APPROVAL_WORKFLOW_", env, log)


def _client(url: str, agency: str, principal: str, roles: str | None = None) -> httpx.AsyncClient:
    headers = {AGENCY_HEADER: agency, PRINCIPAL_HEADER: principal}
    if roles:
        headers[ROLES_HEADER] = roles
    return httpx.AsyncClient(base_url=url, headers=headers, auth=signed(), timeout=60)


# --- bulk rows ----------------------------------------------------------------------------

REQUEST_COLUMNS = (
    "id",
    "agency",
    "subject_kind",
    "subject_id",
    "input_hash",
    "requested_by",
    "required_roles",
    "quorum",
    "separation",
    "requested_at",
    "expires_at",
    "status",
    "decided_at",
    "summary",
    "reason",
    "rule_ids",
    "policy_version",
    "risk_score",
    "origin",
    "fingerprint",
)


def request_row(
    approval_id: str, agency: str, status: str, requested_at: datetime, expires_at: datetime
) -> tuple[Any, ...]:
    """One ``approval.requests`` row in ``REQUEST_COLUMNS`` order, for COPY (bulk setup)."""
    decided = None if status == "pending" else requested_at + timedelta(minutes=5)
    return (
        approval_id,
        agency,
        "deployment",
        approval_id,
        INPUT_HASH,
        "ci",
        ["sre"],
        1,
        "requester",
        requested_at,
        expires_at,
        status,
        decided,
        "prompt change to 1000 agents",
        "risk above 0.7",
        ["deploy.high-risk"],
        "org:1+agency:2",
        0.8,
        "event",
        "sha256:" + hashlib.sha256(approval_id.encode()).hexdigest(),
    )


async def _load_history(dsn: str, sizes: Sizes) -> int:
    """``sizes.stored`` requests over the agencies and the last 30 days, none with timers."""
    now = datetime.now(UTC)
    step = timedelta(days=30) / sizes.stored
    rows = [
        request_row(
            f"h-{n:07d}",
            f"agency-{n % sizes.agencies}",
            STATUSES[n % len(STATUSES)],
            now - timedelta(days=30) + step * n,
            now + timedelta(days=30),
        )
        for n in range(sizes.stored)
    ]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "requests", schema_name="approval", records=rows, columns=REQUEST_COLUMNS
        )
        await conn.execute("ANALYZE approval.requests")
    finally:
        await conn.close()
    return len(rows)


async def _load_timers(
    dsn: str, agency: str, count: int, lead_s: float, window_s: float
) -> tuple[datetime, dict[str, datetime]]:
    """Pending requests of ``agency`` whose expiry falls due evenly over the window."""
    start = datetime.now(UTC) + timedelta(seconds=lead_s)
    step = timedelta(seconds=window_s) / count
    due = {f"{agency}-{n:06d}": start + step * n for n in range(count)}
    requested = datetime.now(UTC) - timedelta(minutes=1)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "requests",
                schema_name="approval",
                records=[request_row(i, agency, "pending", requested, at) for i, at in due.items()],
                columns=REQUEST_COLUMNS,
            )
            await conn.copy_records_to_table(
                "timers",
                schema_name="approval",
                records=[(i, "expire", at) for i, at in due.items()],
                columns=("approval_id", "kind", "due_at"),
            )
        await conn.execute("ANALYZE approval.timers")
    finally:
        await conn.close()
    return start, due


# --- measurements -------------------------------------------------------------------------


async def _timed(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    resp = await client.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"GET {path} {params}: {resp.status_code} {resp.text[:300]}")
    return elapsed, resp.json()


async def _list(url: str, queries: int) -> tuple[list[float], list[float], int]:
    """List latencies (first and second pages, two statuses), then ``/healthz`` as many."""
    times: list[float] = []
    items = 0
    async with _client(url, LISTED, "viewer") as client:
        cursors: dict[str, str | None] = {}
        for _ in range(10):  # warm the connection pool and the plans
            await _timed(client, "/v1/approvals", {"status": "pending", "limit": 50})
        for q in range(queries):
            status = ("pending", "granted")[q % 2]
            params: dict[str, Any] = {"status": status, "limit": 50}
            if q % 4 >= 2 and cursors.get(status):
                params["cursor"] = cursors[status]
            elapsed, page = await _timed(client, "/v1/approvals", params)
            cursors[status] = page["next_cursor"]
            items += len(page["items"])
            times.append(elapsed)
        healthz = [(await _timed(client, "/healthz", {}))[0] for _ in range(queries)]
    return times, healthz, items


class DecidedEvents:
    """Core-NATS subscriber of ``cortex.approval.decided.<agency>``: when each id arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}  # perf_counter of the first arrival
        self.wall: dict[str, float] = {}  # time.time() of the first arrival
        self.count: Counter[str] = Counter()
        self._waiting: dict[str, asyncio.Future[float]] = {}

    async def heard(self, msg: Any) -> None:
        approval_id = unpack(decode(msg.data), ApprovalDecided).approval_id
        self.count[approval_id] += 1
        if approval_id not in self.arrived:
            self.arrived[approval_id] = time.perf_counter()
            self.wall[approval_id] = time.time()
            future = self._waiting.pop(approval_id, None)
            if future is not None and not future.done():
                future.set_result(self.arrived[approval_id])

    def expect(self, approval_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[approval_id] = future
        return future


@dataclass(frozen=True)
class Decision:
    total_ms: float  # posted → event heard and long-poll answered
    http_ms: float  # the decision's own answer
    event_ms: float
    poll_ms: float


async def _decide_samples(a: str, b: str, nats_url: str, samples: int) -> list[Decision]:
    nc = await nats.connect(nats_url)
    events = DecidedEvents()
    await nc.subscribe(f"cortex.approval.decided.{LIVE}", cb=events.heard)
    found = []
    try:
        async with (
            _client(a, LIVE, "ci") as requester,
            _client(a, LIVE, "ana", roles="sre") as approver,
            _client(b, LIVE, "watcher") as watcher,
        ):
            for n in range(samples + 5):  # the first five warm up
                body = {
                    "subject": {"kind": "deployment", "id": f"live-{n}", "input_hash": INPUT_HASH},
                    "required_roles": ["sre"],
                    "summary": "prompt change",
                }
                made = await requester.post("/v1/approvals", json=body)
                approval_id = made.json()["id"]
                heard = events.expect(approval_id)
                poll = asyncio.create_task(
                    watcher.get(f"/v1/approvals/{approval_id}", params={"wait": 30})
                )
                await asyncio.sleep(0.05)  # the long-poll has read the request and waits
                started = time.perf_counter()
                resp = await approver.post(
                    f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"}
                )
                answered = time.perf_counter()
                if resp.status_code != 200:
                    raise RuntimeError(f"decision: {resp.status_code} {resp.text[:300]}")
                polled = await poll
                polled_at = time.perf_counter()
                if polled.json()["status"] != "granted":
                    raise RuntimeError(f"long-poll answered {polled.json()['status']}")
                event_at = await asyncio.wait_for(heard, 30)
                if n >= 5:
                    found.append(
                        Decision(
                            (max(event_at, polled_at) - started) * 1000,
                            (answered - started) * 1000,
                            (event_at - started) * 1000,
                            (polled_at - started) * 1000,
                        )
                    )
    finally:
        await nc.close()
    return found


@dataclass(frozen=True)
class Expiry:
    due: dict[str, datetime]
    lateness_ms: list[float]  # event heard - due
    fired_lateness_ms: list[float]  # fired_at - due_at
    fired_twice: int
    lost: int
    heard: int
    heard_twice: int


async def _expiries(
    dsn: str, nats_url: str, agency: str, count: int, lead_s: float, window_s: float
) -> Expiry:
    nc = await nats.connect(nats_url)
    events = DecidedEvents()
    await nc.subscribe(f"cortex.approval.decided.{agency}", cb=events.heard)
    try:
        start, due = await _load_timers(dsn, agency, count, lead_s, window_s)
        _log(f"{len(due):,} timers due from {start:%H:%M:%S} over {window_s:.0f} s")
        deadline = time.time() + lead_s + window_s + 120
        while len(events.arrived) < len(due) and time.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # a deadline as well as a condition
    finally:
        await nc.close()
    lateness = [
        (events.wall[i] - at.timestamp()) * 1000 for i, at in due.items() if i in events.wall
    ]
    conn = await asyncpg.connect(dsn)
    try:
        pattern = f"{agency}-%"
        fired = await conn.fetch(
            "SELECT EXTRACT(EPOCH FROM fired_at - due_at) * 1000 AS late FROM approval.timers "
            "WHERE approval_id LIKE $1 AND fired_at IS NOT NULL",
            pattern,
        )
        lost = await conn.fetchval(
            "SELECT count(*) FROM approval.timers WHERE approval_id LIKE $1 AND fired_at IS NULL",
            pattern,
        )
        staged = await conn.fetch(
            "SELECT data FROM approval.outbox WHERE subject = $1",
            f"cortex.approval.decided.{agency}",
        )
    finally:
        await conn.close()
    per_id = Counter(unpack(decode(r["data"]), ApprovalDecided).approval_id for r in staged)
    return Expiry(
        due,
        lateness,
        [float(r["late"]) for r in fired],
        sum(n - 1 for n in per_id.values() if n > 1),
        int(lost),
        len(events.arrived),
        sum(n - 1 for n in events.count.values() if n > 1),
    )


def _log_expiry(what: str, expiry: Expiry) -> None:
    _log(
        f"expiry ({what}): {expiry.heard:,} heard, lateness p50 {_ms(expiry.lateness_ms, 50)} "
        f"ms, p99 {_ms(expiry.lateness_ms, 99)} ms, max {_ms(expiry.lateness_ms, 100)} ms; "
        f"fired twice {expiry.fired_twice}, lost {expiry.lost}"
    )


# --- the suite ----------------------------------------------------------------------------


async def _main(sizes: Sizes) -> Metrics:
    with embedded_servers(durable=True) as servers:
        servers.postgres.ensure_database(DATABASE)
        url = servers.postgres.url(DATABASE)
        dsn = url.replace("+asyncpg", "")
        db = Database(url)
        await upgrade_to_head(db, MIGRATIONS, "approval")
        await db.dispose()
        copy_started = time.perf_counter()
        stored = await _load_history(dsn, sizes)
        copy_s = time.perf_counter() - copy_started
        _log(f"{stored:,} requests COPYed in {copy_s:.1f} s")
        common = {"DATABASE_URL": url, "NATS_URL": servers.nats.url}
        async with (
            _replica(common, servers.root / "replica-a.log") as a,
            _replica(common, servers.root / "replica-b.log") as b,
        ):
            list_ms, healthz_ms, items = await _list(a.url, sizes.list_queries)
            _log(
                f"list p50 {_ms(list_ms, 50)} ms, p95 {_ms(list_ms, 95)} ms ({items:,} items); "
                f"healthz p95 {_ms(healthz_ms, 95)} ms"
            )
            decisions = await _decide_samples(a.url, b.url, servers.nats.url, sizes.decisions)
            total = [d.total_ms for d in decisions]
            _log(f"decide → event + long-poll p50 {_ms(total, 50)} ms, p99 {_ms(total, 99)} ms")
            expiry = await _expiries(
                dsn, servers.nats.url, TIMED, sizes.timers, sizes.timer_lead_s, sizes.timer_window_s
            )
            _log_expiry("spread", expiry)
            burst = await _expiries(
                dsn, servers.nats.url, BURST, sizes.timers, sizes.timer_lead_s, 0.001
            )
            _log_expiry("burst", burst)
    list_p95, healthz_p95 = _ms(list_ms, 95), _ms(healthz_ms, 95)
    decide_http = [d.http_ms for d in decisions]
    return {
        "decide_to_event_p99_ms": metric(_ms(total, 99), "ms", better="lower", target=250),
        "decide_to_event_p50_ms": metric(_ms(total, 50), "ms", better="lower"),
        "decide_event_heard_p99_ms": metric(
            _ms([d.event_ms for d in decisions], 99), "ms", better="lower"
        ),
        "decide_long_poll_answered_p99_ms": metric(
            _ms([d.poll_ms for d in decisions], 99), "ms", better="lower"
        ),
        "decide_http_p99_ms": metric(_ms(decide_http, 99), "ms", better="lower"),
        "decide_to_event_vs_decide_http_p99_ratio": metric(
            ratio(_ms(total, 99), _ms(decide_http, 99)), "ratio", better="lower"
        ),
        "list_p95_ms_100k": metric(list_p95, "ms", better="lower", target=50),
        "list_p50_ms_100k": metric(_ms(list_ms, 50), "ms", better="lower"),
        "healthz_p95_ms": metric(healthz_p95, "ms", better="lower"),
        "list_vs_healthz_p95_ratio": metric(ratio(list_p95, healthz_p95), "ratio", better="lower"),
        "expiry_lateness_p99_ms_10k": metric(
            _ms(expiry.lateness_ms, 99), "ms", better="lower", target=1000
        ),
        "expiry_lateness_p50_ms_10k": metric(_ms(expiry.lateness_ms, 50), "ms", better="lower"),
        "expiry_fired_at_lateness_p99_ms_10k": metric(
            _ms(expiry.fired_lateness_ms, 99), "ms", better="lower"
        ),
        "expiry_burst_lateness_p99_ms_10k": metric(
            _ms(burst.lateness_ms, 99), "ms", better="lower"
        ),
        "expiry_burst_timers_per_s": metric(
            round(len(burst.lateness_ms) / max(max(burst.lateness_ms) / 1000, 1e-3), 1),
            "timers/s",
            better="higher",
        ),
        "timers_fired_twice": metric(
            float(expiry.fired_twice + burst.fired_twice), "timers", better="lower", target=0
        ),
        "timers_lost": metric(float(expiry.lost + burst.lost), "timers", better="lower", target=0),
        "expiry_events_heard": metric(float(expiry.heard + burst.heard), "events", better="higher"),
        "stored_requests": metric(float(stored), "requests", better="higher"),
        "history_copy_s": metric(round(copy_s, 2), "s", better="lower"),
    }


def run(*, quick: bool) -> Metrics:
    return run_async(lambda: _main(QUICK if quick else FULL))
