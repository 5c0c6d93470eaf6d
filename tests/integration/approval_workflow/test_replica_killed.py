"""Two replicas of ``python -m approval_workflow`` (real subprocesses, one database, one NATS)
fire a burst of expiry timers; one is killed with SIGKILL in the middle. The survivor fires
the rest: every timer fires exactly once, every request expires once with exactly one
``approval.decided`` event (outbox and JetStream), and the killed replica's open transaction
leaves nothing behind. A replica started afterwards fires nothing again.

Who fired what is recorded by a test-only trigger on ``approval.timers`` (one row per firing,
in the firing's own transaction, with the replica's ``application_name``): it counts a second
firing even though ``fired_at`` would simply be overwritten, and rolls back with the killed
transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from benchmarks.approvals import REQUEST_COLUMNS, request_row
from cortex_contracts import ApprovalDecided, ApprovalOutcome, decode, unpack
from cortex_kit.embedded import free_port
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER

from .conftest import request_body, stream_payloads

pytestmark = pytest.mark.slow

AGENCY = "acme"
VIA_API = 300  # requests made through the API (both replicas)
BULK = 5_700  # requests COPYed with their timers, as benchmarks/approvals.py sets them up
TOTAL = VIA_API + BULK
BATCH = 200  # timers per reconciler transaction: many transactions, so the kill lands in one
LEAD_S = 15  # the burst falls due this long after the setup starts
INPUT_HASH = "sha256:" + "ab" * 32

FIRINGS = [
    """CREATE TABLE public.timer_firings (
         approval_id text NOT NULL, kind text NOT NULL, replica text NOT NULL,
         txid bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())""",
    """CREATE FUNCTION public.record_timer_firing() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO public.timer_firings (approval_id, kind, replica, txid)
         VALUES (NEW.approval_id, NEW.kind, current_setting('application_name'),
                 txid_current());
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER record_firing AFTER UPDATE OF fired_at ON approval.timers
       FOR EACH ROW WHEN (NEW.fired_at IS NOT NULL)
       EXECUTE FUNCTION public.record_timer_firing()""",
]

# --- replicas -----------------------------------------------------------------------------


class Replica:
    def __init__(self, name: str, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.name = name  # also its PostgreSQL application_name (the service name)
        self.proc = proc
        self.url = url
        self.log = log

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def replica(name: str, database_url: str, nats_url: str, log: Path) -> Iterator[Replica]:
    port = free_port()
    settings = {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "INTERNAL_SECRET": TEST_INTERNAL_SECRET,
        "SERVICE_NAME": name,
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
        "TIMER_BATCH_SIZE": str(BATCH),
        "TIMER_INTERVAL_S": "0.2",
        "OUTBOX_POLL_INTERVAL_S": "0.2",
    }
    env = {**os.environ, **{f"CORTEX_APPROVAL_WORKFLOW_{k}": v for k, v in settings.items()}}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "approval_workflow"], env=env, stdout=out, stderr=out
        )
    try:
        yield Replica(name, proc, f"http://127.0.0.1:{port}", log)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


async def wait_ready(r: Replica) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            assert r.proc.poll() is None, f"{r.name} exited:\n{r.tail()}"
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{r.url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{r.name} not ready:\n{r.tail()}")


# --- setup --------------------------------------------------------------------------------


async def bulk_load(dsn: str, due: datetime) -> list[str]:
    ids = [f"bulk-{n:06d}" for n in range(BULK)]
    requested = datetime.now(UTC) - timedelta(minutes=1)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "requests",
                schema_name="approval",
                records=[request_row(i, AGENCY, "pending", requested, due) for i in ids],
                columns=REQUEST_COLUMNS,
            )
            await conn.copy_records_to_table(
                "timers",
                schema_name="approval",
                records=[(i, "expire", due) for i in ids],
                columns=("approval_id", "kind", "due_at"),
            )
        await conn.execute("ANALYZE approval.timers")
    finally:
        await conn.close()
    return ids


async def via_api(replicas: list[Replica], due: datetime) -> list[str]:
    """``VIA_API`` requests, alternately on each replica, expiring at about ``due``."""
    clients = [
        httpx.AsyncClient(
            base_url=r.url,
            headers={AGENCY_HEADER: AGENCY, PRINCIPAL_HEADER: "ci"},
            auth=signed(),
            timeout=30,
        )
        for r in replicas
    ]
    semaphore = asyncio.Semaphore(16)

    async def make(n: int) -> str:
        async with semaphore:
            expires_in_s = max(1, round((due - datetime.now(UTC)).total_seconds()))
            subject = {"kind": "deployment", "id": f"api-{n}", "input_hash": INPUT_HASH}
            body = request_body(subject=subject, expires_in_s=expires_in_s)
            resp = await clients[n % len(clients)].post("/v1/approvals", json=body)
            assert resp.status_code == 201, resp.text
            return str(resp.json()["id"])

    try:
        return list(await asyncio.gather(*(make(n) for n in range(VIA_API))))
    finally:
        for c in clients:
            await c.aclose()


# --- observations -------------------------------------------------------------------------


async def fired_by(conn: Any) -> Counter[str]:
    rows = await conn.fetch("SELECT replica, count(*) AS n FROM public.timer_firings GROUP BY 1")
    return Counter({r["replica"]: int(r["n"]) for r in rows})


async def unfired(conn: Any) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM approval.timers WHERE fired_at IS NULL"))


async def writing_transactions(conn: Any, name: str) -> list[int]:
    """The transaction ids of replica ``name``'s open transactions that have written (a batch
    mid-way: claimed, some of its updates done, not committed)."""
    rows = await conn.fetch(
        "SELECT ((txid_current() >> 32) << 32) + backend_xid::text::bigint AS txid "
        "FROM pg_stat_activity WHERE application_name = $1 AND backend_xid IS NOT NULL",
        name,
    )
    return [int(r["txid"]) for r in rows]


def log(message: str) -> None:
    print(f"[replica-killed] {message}", file=sys.stderr, flush=True)


async def until(probe: Any, what: str, timeout_s: float = 90.0, every_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not await probe():
        assert time.monotonic() < deadline, f"not reached in {timeout_s:.0f} s: {what}"
        await asyncio.sleep(every_s)


# --- the test -----------------------------------------------------------------------------


@pytest.mark.timeout(300)
async def test_a_replica_killed_mid_burst_loses_no_timer_and_fires_none_twice(
    migrated_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    dsn = migrated_database_url.replace("+asyncpg", "")
    conn = await asyncpg.connect(dsn)
    try:
        for statement in FIRINGS:
            await conn.execute(statement)
        with (
            replica(
                "approval-workflow-a", migrated_database_url, nats_url, tmp_path / "a.log"
            ) as a,
            replica(
                "approval-workflow-b", migrated_database_url, nats_url, tmp_path / "b.log"
            ) as b,
        ):
            await asyncio.gather(wait_ready(a), wait_ready(b))
            due = datetime.now(UTC) + timedelta(seconds=LEAD_S)
            ids = await bulk_load(dsn, due) + await via_api([a, b], due)
            assert len(set(ids)) == TOTAL
            assert await unfired(conn) == TOTAL, "timers fired before their due time"

            # Both replicas busy; the kill once about a third has fired, while A is mid-batch.
            open_at_kill: list[int] = []

            async def a_third_fired_and_a_mid_batch() -> bool:
                counts = await fired_by(conn)
                if sum(counts.values()) < TOTAL // 3 or len(counts) < 2:
                    return False
                open_at_kill[:] = await writing_transactions(conn, a.name)
                return bool(open_at_kill)

            await until(a_third_fired_and_a_mid_batch, "a third fired, A mid-batch", every_s=0)
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=10)
            at_kill = await fired_by(conn)
            left_at_kill = await unfired(conn)
            log(
                f"{TOTAL} timers; at the kill: fired {dict(at_kill)}, {left_at_kill} unfired; "
                f"A's open transactions {open_at_kill}"
            )
            assert left_at_kill > 0, "nothing left for the survivor: the kill came too late"

            async def all_fired() -> bool:
                return await unfired(conn) == 0

            await until(all_fired, "the survivor fired the rest")
            for txid in open_at_kill:  # rolled back, and nothing of it stayed
                status = await conn.fetchval("SELECT txid_status($1)", txid)
                assert status == "aborted", (txid, status)
                assert not await conn.fetchval(
                    "SELECT count(*) FROM public.timer_firings WHERE txid = $1", txid
                )
            assert b.proc.poll() is None, f"the survivor died:\n{b.tail()}"
            final = await fired_by(conn)
            log(f"after the kill: fired {dict(final)}")
            assert final[a.name] > 0  # A fired its share before it died …
            assert final[b.name] - at_kill[b.name] > 0  # … and B the rest, after

            await check_each_fired_once(conn, ids)
            await check_one_event_each(conn, nats_url, ids)

            # A replica started after the kill (A again) finds nothing to fire.
            with replica(
                "approval-workflow-c", migrated_database_url, nats_url, tmp_path / "c.log"
            ) as c:
                await wait_ready(c)
                await asyncio.sleep(2.0)  # ten reconciler intervals
                assert c.proc.poll() is None, c.tail()
            assert await fired_by(conn) == final, "a timer fired again after the restart"
            await check_each_fired_once(conn, ids)
            await check_one_event_each(conn, nats_url, ids)
    finally:
        await conn.close()


async def check_each_fired_once(conn: Any, ids: list[str]) -> None:
    firings = Counter(
        r["approval_id"] for r in await conn.fetch("SELECT approval_id FROM public.timer_firings")
    )
    assert sorted(firings) == sorted(ids), "a timer is missing from the firings"
    twice = {i: n for i, n in firings.items() if n > 1}
    assert not twice, f"{len(twice)} timers fired more than once"
    results = await conn.fetch(
        "SELECT result, count(*) AS n FROM approval.timers WHERE fired_at IS NOT NULL GROUP BY 1"
    )
    assert {r["result"]: r["n"] for r in results} == {"fired": len(ids)}  # none moot
    statuses = await conn.fetch(
        "SELECT status, count(*) AS n, count(decided_at) AS decided "
        "FROM approval.requests GROUP BY 1"
    )
    assert [(r["status"], r["n"], r["decided"]) for r in statuses] == [
        ("expired", len(ids), len(ids))
    ]


async def check_one_event_each(conn: Any, nats_url: str, ids: list[str]) -> None:
    """The outbox and JetStream hold exactly one expired ``approval.decided`` per request, and
    no request is expired without its event (or has an event without being expired)."""
    staged = [
        unpack(decode(r["data"]), ApprovalDecided)
        for r in await conn.fetch(
            "SELECT data FROM approval.outbox WHERE subject LIKE 'cortex.approval.decided.%'"
        )
    ]
    staged_ids = Counter(e.approval_id for e in staged)
    assert sorted(staged_ids) == sorted(ids), "an expired request has no event, or vice versa"
    assert max(staged_ids.values()) == 1, "a request's expiry was staged twice"
    assert {e.outcome for e in staged} == {ApprovalOutcome.APPROVAL_OUTCOME_EXPIRED}
    expired = {
        r["id"]
        for r in await conn.fetch("SELECT id FROM approval.requests WHERE status = 'expired'")
    }
    assert expired == set(staged_ids), "an expired request without its event, or vice versa"

    async def all_published() -> bool:
        return not await conn.fetchval(
            "SELECT count(*) FROM approval.outbox WHERE published_at IS NULL"
        )

    await until(all_published, "every outbox row relayed")
    published = Counter(
        e.approval_id for e in await stream_payloads(nats_url, f"cortex.approval.decided.{AGENCY}")
    )
    assert sorted(published) == sorted(ids), "JetStream misses an event"
    assert max(published.values()) == 1, "JetStream holds an event twice"
