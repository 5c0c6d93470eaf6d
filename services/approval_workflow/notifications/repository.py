"""All SQL of notifications: the per-agency configuration (secret ciphertext, targets) and the
durable queue. Returns typed rows; times of leases and retries are the database's ``now()``, the
one clock every replica shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from approval_workflow.models import notification_settings, notification_targets, notifications
from approval_workflow.notifications.message import NotificationEvent

_S, _T, _N = notification_settings, notification_targets, notifications
DeliveryStatus = str  # pending | delivered | failed | dropped


@dataclass(frozen=True, slots=True)
class TargetRow:
    agency: str
    id: str
    url: str
    events: list[str]
    position: int


@dataclass(frozen=True, slots=True)
class SettingsRow:
    agency: str
    secret_ciphertext: bytes
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredConfig:
    settings: SettingsRow
    targets: list[TargetRow]


@dataclass(frozen=True, slots=True)
class NewNotification:
    id: str
    agency: str
    target_id: str
    approval_id: str
    event: NotificationEvent
    body: str


@dataclass(frozen=True, slots=True)
class ClaimedNotification:
    """A notification leased to this replica for one attempt (``attempts`` is the fence)."""

    id: str
    agency: str
    target_id: str
    approval_id: str
    event: str
    body: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a claimed notification goes and what signs it (the secret still sealed)."""

    url: str
    secret_ciphertext: bytes


@dataclass(frozen=True, slots=True)
class Attempt:
    """The result of one attempt: ``status`` pending (retry after ``retry_in_s``), delivered,
    failed or dropped."""

    id: str
    attempts: int
    status: DeliveryStatus
    retry_in_s: float | None
    last_status: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class FailedRow:
    id: str
    approval_id: str
    target_id: str
    event: str
    attempts: int
    last_status: int | None
    last_error: str | None
    finished_at: datetime | None


async def get_config(session: AsyncSession, agency: str) -> StoredConfig | None:
    row = (await session.execute(select(_S).where(_S.c.agency == agency))).first()
    if row is None:
        return None
    targets = await session.execute(select(_T).where(_T.c.agency == agency).order_by(_T.c.position))
    return StoredConfig(
        SettingsRow(row.agency, row.secret_ciphertext, row.updated_by, row.updated_at),
        [TargetRow(t.agency, t.id, t.url, list(t.events), t.position) for t in targets],
    )


async def save_config(
    session: AsyncSession,
    agency: str,
    ciphertext: bytes,
    targets: Sequence[TargetRow],
    *,
    updated_by: str,
    now: datetime,
) -> None:
    """Replace the agency's configuration (the targets not named any more are removed)."""
    values = {"secret_ciphertext": ciphertext, "updated_by": updated_by, "updated_at": now}
    await session.execute(
        pg_insert(_S)
        .values(agency=agency, **values)
        .on_conflict_do_update(index_elements=["agency"], set_=values)
    )
    await session.execute(delete(_T).where(_T.c.agency == agency))
    if targets:
        rows = [
            {"agency": agency, "id": t.id, "url": t.url, "events": t.events, "position": t.position}
            for t in targets
        ]
        await session.execute(_T.insert().values(rows))


async def delete_config(session: AsyncSession, agency: str) -> bool:
    """Remove the agency's configuration (its targets with it); False when there was none."""
    result = await session.execute(delete(_S).where(_S.c.agency == agency).returning(_S.c.agency))
    return result.first() is not None


async def drop_pending(session: AsyncSession, agency: str, keep: Sequence[str]) -> int:
    """End the queued notifications of targets removed from the configuration."""
    statement = (
        update(_N)
        .where(_N.c.agency == agency, _N.c.status == "pending", _N.c.target_id.not_in(keep))
        .values(status="dropped", last_error="target removed", finished_at=func.now())
        .returning(_N.c.id)
    )
    return len((await session.execute(statement)).all())


async def targets_of(session: AsyncSession, agencies: Sequence[str]) -> list[TargetRow]:
    """The targets of these agencies (staging asks once per transaction)."""
    statement = select(_T).where(_T.c.agency.in_(agencies)).order_by(_T.c.agency, _T.c.position)
    rows = await session.execute(statement)
    return [TargetRow(t.agency, t.id, t.url, list(t.events), t.position) for t in rows]


_ENQUEUE = text(
    "INSERT INTO approval.notifications (id, agency, target_id, approval_id, event, body, "
    "status, attempts, next_attempt_at, created_at) "
    "SELECT v.id, v.agency, v.target_id, v.approval_id, v.event, v.body, 'pending', 0, "
    "now(), now() FROM unnest(CAST(:ids AS text[]), CAST(:agencies AS text[]), "
    "CAST(:targets AS text[]), CAST(:approvals AS text[]), CAST(:events AS text[]), "
    "CAST(:bodies AS text[])) AS v(id, agency, target_id, approval_id, event, body)"
)


async def enqueue(session: AsyncSession, rows: Sequence[NewNotification]) -> None:
    """Queue notifications in the caller's transaction (one statement however many)."""
    if rows:
        await session.execute(
            _ENQUEUE,
            {
                "ids": [r.id for r in rows],
                "agencies": [r.agency for r in rows],
                "targets": [r.target_id for r in rows],
                "approvals": [r.approval_id for r in rows],
                "events": [r.event for r in rows],
                "bodies": [r.body for r in rows],
            },
        )


_CLAIM = text(
    "WITH due AS (SELECT id FROM approval.notifications "
    "WHERE status = 'pending' AND next_attempt_at <= now() "
    "ORDER BY next_attempt_at LIMIT :limit FOR UPDATE SKIP LOCKED) "
    "UPDATE approval.notifications AS n SET attempts = n.attempts + 1, "
    "next_attempt_at = now() + make_interval(secs => :lease_s) "
    "FROM due WHERE n.id = due.id "
    "RETURNING n.id, n.agency, n.target_id, n.approval_id, n.event, n.body, n.attempts, "
    "n.created_at"
)


async def claim(session: AsyncSession, limit: int, lease_s: float) -> list[ClaimedNotification]:
    """Lease up to ``limit`` due notifications: each is due again only when the lease ends
    (a replica that died mid-send), and its ``attempts`` (+1) fences the result."""
    rows = await session.execute(_CLAIM, {"limit": limit, "lease_s": lease_s})
    return [
        ClaimedNotification(
            r.id, r.agency, r.target_id, r.approval_id, r.event, r.body, r.attempts, r.created_at
        )
        for r in rows
    ]


async def destinations(
    session: AsyncSession, claimed: Sequence[ClaimedNotification]
) -> dict[tuple[str, str], Destination]:
    """(agency, target id) → URL and sealed secret, for the targets still configured."""
    agencies = sorted({c.agency for c in claimed})
    if not agencies:
        return {}
    statement = (
        select(_T.c.agency, _T.c.id, _T.c.url, _S.c.secret_ciphertext)
        .join(_S, _S.c.agency == _T.c.agency)
        .where(_T.c.agency.in_(agencies))
    )
    rows = await session.execute(statement)
    return {(r.agency, r.id): Destination(r.url, r.secret_ciphertext) for r in rows}


_RECORD = text(
    "UPDATE approval.notifications AS n SET status = v.status, "
    "next_attempt_at = CASE WHEN v.retry_in_s IS NULL THEN n.next_attempt_at "
    "ELSE now() + make_interval(secs => v.retry_in_s) END, "
    "last_status = v.last_status, last_error = v.last_error, "
    "finished_at = CASE WHEN v.status = 'pending' THEN NULL ELSE now() END "
    "FROM unnest(CAST(:ids AS text[]), CAST(:attempts AS integer[]), "
    "CAST(:statuses AS text[]), CAST(:retry AS float8[]), CAST(:codes AS integer[]), "
    "CAST(:errors AS text[])) AS v(id, attempts, status, retry_in_s, last_status, last_error) "
    "WHERE n.id = v.id AND n.attempts = v.attempts AND n.status = 'pending' "
    "RETURNING n.id"
)


async def record(session: AsyncSession, results: Sequence[Attempt]) -> set[str]:
    """Store attempts' results, each only if its lease still holds (nobody claimed the row
    since); returns the ids recorded."""
    if not results:
        return set()
    found = await session.execute(
        _RECORD,
        {
            "ids": [r.id for r in results],
            "attempts": [r.attempts for r in results],
            "statuses": [r.status for r in results],
            "retry": [r.retry_in_s for r in results],
            "codes": [r.last_status for r in results],
            "errors": [r.last_error for r in results],
        },
    )
    return {str(r.id) for r in found}


async def counts(session: AsyncSession, agency: str) -> dict[str, int]:
    statement = select(_N.c.status, func.count()).where(_N.c.agency == agency).group_by(_N.c.status)
    return {str(s): int(n) for s, n in (await session.execute(statement)).all()}


async def recent_failures(session: AsyncSession, agency: str, limit: int) -> list[FailedRow]:
    statement = (
        select(_N)
        .where(_N.c.agency == agency, _N.c.status == "failed")
        .order_by(_N.c.created_at.desc())
        .limit(limit)
    )
    rows = await session.execute(statement)
    return [
        FailedRow(
            r.id,
            r.approval_id,
            r.target_id,
            r.event,
            r.attempts,
            r.last_status,
            r.last_error,
            r.finished_at,
        )
        for r in rows
    ]


async def purge(session: AsyncSession, older_than_s: float) -> int:
    """Forget finished notifications older than the retention."""
    statement = (
        delete(_N)
        .where(
            _N.c.status != "pending",
            _N.c.finished_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than_s),
        )
        .returning(_N.c.id)
    )
    return len((await session.execute(statement)).all())


async def sealed_secrets(session: AsyncSession) -> list[tuple[str, bytes]]:
    rows = await session.execute(select(_S.c.agency, _S.c.secret_ciphertext))
    return [(str(a), cast(bytes, c)) for a, c in rows]


async def reseal(session: AsyncSession, agency: str, ciphertext: bytes) -> None:
    await session.execute(
        update(_S).where(_S.c.agency == agency).values(secret_ciphertext=ciphertext)
    )
