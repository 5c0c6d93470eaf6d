"""A generated delivery history for the dora suite, written straight into PostgreSQL.

Every fact is a row of ``metrics.delivery_events`` (the merged fact) and of
``metrics.delivery_fact_versions`` (its one version), exactly as the metrics-collector stores a
fact it consumed once: the facts JSON is what ``MessageToDict`` gives the protobuf event. Rows
are written with asyncpg's binary ``COPY`` (``copy_records_to_table``) in chunks, so memory stays
bounded whatever the size.

Per service (one environment, ``production``): deployments spread evenly over the history
(88 % succeeded, 8 % failed, 4 % rolled back; 5 % labelled hotfix), changes committed uniformly
over it (their commit sets are the implicit ones: the changes between two deployments), and
incidents opened uniformly, resolved 30 min to 8 h later, a third naming a recent deployment as
their cause.
"""

from __future__ import annotations

import json
import random
import uuid
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]  # no stubs; pyproject lists no override

AGENCY = "bench"
ENVIRONMENT = "production"
CHUNK = 50_000
_STATUSES = (
    ("DEPLOYMENT_STATUS_SUCCEEDED", 0.88),
    ("DEPLOYMENT_STATUS_FAILED", 0.96),
    ("DEPLOYMENT_STATUS_ROLLED_BACK", 1.0),
)
EVENT_COLUMNS = (
    "agency",
    "event_id",
    "kind",
    "service",
    "environment",
    "occurred_at",
    "envelope_id",
    "source",
    "facts",
)
VERSION_COLUMNS = (
    "envelope_id",
    "agency",
    "kind",
    "event_id",
    "service",
    "environment",
    "occurred_at",
    "source",
    "facts",
)
Row = tuple[str, str, str, str, str | None, datetime, str, str, str]


@dataclass(frozen=True)
class History:
    services: int
    deployments: int
    changes: int
    incidents: int
    start_s: float  # epoch seconds
    end_s: float

    def service(self, k: int) -> str:
        return f"svc-{k:03d}"

    @property
    def names(self) -> list[str]:
        return [self.service(k) for k in range(self.services)]


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def _row(
    kind: str, event_id: str, service: str, env: str | None, at: float, facts: dict[str, object]
) -> Row:
    return (
        AGENCY,
        event_id,
        kind,
        service,
        env,
        datetime.fromtimestamp(at, UTC),
        str(uuid.uuid4()),
        "bench-history",
        json.dumps(facts, separators=(",", ":")),
    )


def _status(rng: random.Random) -> str:
    draw = rng.random()
    return next(status for status, upto in _STATUSES if draw < upto)


def _service_rows(h: History, k: int, rng: random.Random) -> Iterator[Row]:
    service = h.service(k)
    span = h.end_s - h.start_s
    per = h.deployments // h.services
    starts = [h.start_s + (i + rng.random()) * span / per for i in range(per)]
    for i, started in enumerate(starts):
        finished = started + rng.uniform(300, 1200)
        dep_id = f"{service}-d{i}"
        facts: dict[str, object] = {
            "deployment_id": dep_id,
            "service": service,
            "environment": ENVIRONMENT,
            "status": _status(rng),
            "started_at": _iso(started),
            "finished_at": _iso(finished),
            "source": "DEPLOYMENT_SOURCE_REST",
        }
        if rng.random() < 0.05:
            facts["labels"] = ["hotfix"]
        yield _row("deployment", dep_id, service, ENVIRONMENT, finished, facts)
    for i in range(h.changes // h.services):
        sha = f"{k:04x}{i:036x}"
        at = h.start_s + rng.random() * span
        yield _row(
            "change",
            sha,
            service,
            None,
            at,
            {
                "event_id": sha,
                "commit_sha": sha,
                "repo": f"github.com/acme/{service}",
                "service": service,
                "committed_at": _iso(at),
            },
        )
    for i in range(h.incidents // h.services):
        opened = h.start_s + rng.random() * span
        inc_id = f"{service}-i{i}"
        facts = {
            "incident_id": inc_id,
            "service": service,
            "environment": ENVIRONMENT,
            "opened_at": _iso(opened),
            "resolved_at": _iso(opened + rng.uniform(1800, 8 * 3600)),
            "severity": rng.choice(("sev1", "sev2", "sev3")),
        }
        before = bisect_right(starts, opened)
        if before and rng.random() < 1 / 3:
            facts["caused_by_deployment"] = f"{service}-d{max(0, before - rng.randint(1, 3))}"
        yield _row("incident", inc_id, service, ENVIRONMENT, opened, facts)


def rows(h: History, seed: int = 7) -> Iterator[Row]:
    rng = random.Random(seed)
    for k in range(h.services):
        yield from _service_rows(h, k, rng)


def _as_version(row: Row) -> tuple[object, ...]:
    agency, event_id, kind, service, env, at, envelope_id, source, facts = row
    return (envelope_id, agency, kind, event_id, service, env, at, source, facts)


async def write(dsn: str, h: History) -> int:
    """COPY the history into both tables; returns the number of facts."""
    conn = await asyncpg.connect(dsn)
    written = 0
    try:
        chunk: list[Row] = []
        for row in rows(h):
            chunk.append(row)
            if len(chunk) == CHUNK:
                written += await _copy(conn, chunk)
                chunk = []
        written += await _copy(conn, chunk)
        await conn.execute("ANALYZE metrics.delivery_events")
        await conn.execute("ANALYZE metrics.delivery_fact_versions")
    finally:
        await conn.close()
    return written


async def _copy(conn: asyncpg.Connection, chunk: list[Row]) -> int:
    if not chunk:
        return 0
    await conn.copy_records_to_table(
        "delivery_events", schema_name="metrics", columns=EVENT_COLUMNS, records=chunk
    )
    await conn.copy_records_to_table(
        "delivery_fact_versions",
        schema_name="metrics",
        columns=VERSION_COLUMNS,
        records=[_as_version(r) for r in chunk],
    )
    return len(chunk)
