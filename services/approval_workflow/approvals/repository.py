"""All SQL of approvals: requests, their decisions and their timers. Returns typed rows."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Text,
    and_,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from approval_workflow.domain.model import (
    Approval,
    Principal,
    Requirement,
    Separation,
    Status,
    Subject,
    SubjectKind,
    TimerKind,
    Verdict,
    Vote,
)
from approval_workflow.models import decisions, requests, timers

_R, _D, _T = requests, decisions, timers
_LOCK_SUBJECT = text("SELECT pg_advisory_xact_lock(:key)")


@dataclass(frozen=True, slots=True)
class Details:
    """What a request says for humans and analytics; the rules never read it."""

    summary: str
    reason: str
    rule_ids: tuple[str, ...]
    policy_version: str
    risk_score: float | None


@dataclass(frozen=True, slots=True)
class StoredApproval:
    approval: Approval
    details: Details
    origin: str  # api | event
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Page:
    items: list[StoredApproval]
    last: tuple[datetime, str] | None  # keyset of the last item when more may follow


@dataclass(frozen=True, slots=True)
class Filters:
    status: Status | None = None
    subject_kind: SubjectKind | None = None
    subject_id: str | None = None


def _lock_key(*parts: str) -> int:
    raw = "\x1f".join(parts).encode()
    value = (zlib.crc32(raw) << 32) | zlib.crc32(raw[::-1])
    return value - (1 << 64) if value >= 1 << 63 else value


async def lock_subject(session: AsyncSession, agency: str, kind: str, subject_id: str) -> None:
    """Serialise the requests of one subject until commit (only the newest may be pending)."""
    await session.execute(_LOCK_SUBJECT, {"key": _lock_key("approval", agency, kind, subject_id)})


def _values(stored: StoredApproval) -> dict[str, Any]:
    a, d = stored.approval, stored.details
    return {
        "id": a.id,
        "agency": a.agency,
        "subject_kind": a.subject.kind,
        "subject_id": a.subject.id,
        "input_hash": a.subject.input_hash,
        "requested_by": a.requested_by,
        "requester_team": a.requester_team,
        "required_roles": list(a.requirement.required_roles),
        "quorum": a.requirement.quorum,
        "separation": a.requirement.separation,
        "requested_at": a.requested_at,
        "expires_at": a.expires_at,
        "escalate_at": a.escalate_at,
        "escalate_to": a.escalate_to,
        "escalated_at": a.escalated_at,
        "status": a.status,
        "decided_at": a.decided_at,
        "superseded_by": a.superseded_by,
        "summary": d.summary,
        "reason": d.reason,
        "rule_ids": list(d.rule_ids),
        "policy_version": d.policy_version,
        "risk_score": d.risk_score,
        "origin": stored.origin,
        "fingerprint": stored.fingerprint,
    }


async def insert(session: AsyncSession, stored: StoredApproval) -> bool:
    """Insert a new request; False when its id exists already (nothing written)."""
    statement = pg_insert(_R).values(_values(stored)).on_conflict_do_nothing(index_elements=["id"])
    result = await session.execute(statement.returning(_R.c.id))
    return result.first() is not None


async def insert_timers(
    session: AsyncSession, approval_id: str, due: Sequence[tuple[TimerKind, datetime]]
) -> None:
    if due:
        rows = [{"approval_id": approval_id, "kind": k, "due_at": at} for k, at in due]
        await session.execute(pg_insert(_T).values(rows).on_conflict_do_nothing())


async def save_state(session: AsyncSession, approval: Approval) -> None:
    """Store what the rules change: status, decision time, supersession, escalation."""
    await session.execute(
        update(_R)
        .where(_R.c.id == approval.id)
        .values(
            status=approval.status,
            decided_at=approval.decided_at,
            superseded_by=approval.superseded_by,
            escalated_at=approval.escalated_at,
        )
    )


async def insert_vote(session: AsyncSession, approval_id: str, vote: Vote) -> None:
    await session.execute(
        _D.insert().values(
            approval_id=approval_id,
            approver=vote.approver,
            roles=list(vote.roles),
            team=vote.team,
            decision=vote.decision,
            comment=vote.comment,
            decided_at=vote.at,
        )
    )


def _vote(row: Row[Any]) -> Vote:
    return Vote(
        approver=row.approver,
        roles=tuple(row.roles),
        team=row.team,
        decision=cast(Verdict, row.decision),
        comment=row.comment,
        at=row.decided_at,
    )


def _stored(row: Row[Any], votes: Sequence[Vote]) -> StoredApproval:
    approval = Approval(
        id=row.id,
        agency=row.agency,
        subject=Subject(cast(SubjectKind, row.subject_kind), row.subject_id, row.input_hash),
        requested_by=row.requested_by,
        requester_team=row.requester_team,
        requirement=Requirement(
            tuple(row.required_roles), row.quorum, cast(Separation, row.separation)
        ),
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        escalate_at=row.escalate_at,
        escalate_to=row.escalate_to,
        status=cast(Status, row.status),
        votes=tuple(votes),
        decided_at=row.decided_at,
        superseded_by=row.superseded_by,
        escalated_at=row.escalated_at,
    )
    details = Details(
        row.summary, row.reason, tuple(row.rule_ids), row.policy_version, row.risk_score
    )
    return StoredApproval(approval, details, row.origin, row.fingerprint)


async def _with_votes(session: AsyncSession, rows: Sequence[Row[Any]]) -> list[StoredApproval]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    found = await session.execute(
        select(_D).where(_D.c.approval_id.in_(ids)).order_by(_D.c.decided_at, _D.c.approver)
    )
    votes: dict[str, list[Vote]] = {}
    for row in found:
        votes.setdefault(row.approval_id, []).append(_vote(row))
    return [_stored(r, votes.get(r.id, ())) for r in rows]


async def get(
    session: AsyncSession, approval_id: str, *, lock: bool = False
) -> StoredApproval | None:
    """One request with its decisions; ``lock``: held FOR UPDATE until commit (decisions on
    one request are serialised by this lock)."""
    statement = select(_R).where(_R.c.id == approval_id)
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).first()
    if row is None:
        return None
    [stored] = await _with_votes(session, [row])
    return stored


async def competing(session: AsyncSession, new: Approval) -> list[StoredApproval]:
    """The other requests for ``new``'s subject that supersession looks at: the pending ones
    (locked) and any newer one. Call under ``lock_subject``."""
    newer = tuple_(_R.c.requested_at, _R.c.id) > tuple_(
        literal(new.requested_at, _R.c.requested_at.type), literal(new.id, Text)
    )
    statement = (
        select(_R)
        .where(
            _R.c.agency == new.agency,
            _R.c.subject_kind == new.subject.kind,
            _R.c.subject_id == new.subject.id,
            _R.c.id != new.id,
            or_(_R.c.status == "pending", newer),
        )
        .with_for_update()
    )
    rows = (await session.execute(statement)).all()
    return await _with_votes(session, rows)


@dataclass(frozen=True, slots=True)
class ClaimedTimer:
    """A due timer claimed with its request (both locked until the transaction ends)."""

    kind: TimerKind
    stored: StoredApproval


async def claim_due_timers(session: AsyncSession, now: datetime, limit: int) -> list[ClaimedTimer]:
    """Up to ``limit`` due, unfired timers with their requests, in one statement (plus one for
    the requests' decisions), locked until this transaction ends: ``FOR UPDATE OF timers,
    requests SKIP LOCKED``, so a replica never claims a timer or a request another holds."""
    statement = (
        select(_T.c.kind.label("timer_kind"), _R)
        .join(_R, _R.c.id == _T.c.approval_id)
        .where(_T.c.fired_at.is_(None), _T.c.due_at <= now)
        .order_by(_T.c.due_at)
        .limit(limit)
        .with_for_update(of=[_T, _R], skip_locked=True)
    )
    rows = (await session.execute(statement)).all()
    stored = {s.approval.id: s for s in await _with_votes(session, _distinct(rows))}
    return [ClaimedTimer(cast(TimerKind, r.timer_kind), stored[r.id]) for r in rows]


def _distinct(rows: Sequence[Row[Any]]) -> list[Row[Any]]:
    """One row per request (a request's two timers may be claimed together)."""
    return list({r.id: r for r in rows}.values())


@dataclass(frozen=True, slots=True)
class FiredTimer:
    approval_id: str
    kind: TimerKind
    result: str  # fired | moot


_SAVE_STATES = text(
    "UPDATE approval.requests AS r SET status = v.status, decided_at = v.decided_at, "
    "escalated_at = v.escalated_at "
    "FROM unnest(CAST(:ids AS text[]), CAST(:statuses AS text[]), "
    "CAST(:decided AS timestamptz[]), CAST(:escalated AS timestamptz[])) "
    "AS v(id, status, decided_at, escalated_at) WHERE r.id = v.id"
)
_MARK_FIRED = text(
    "UPDATE approval.timers AS t SET fired_at = :now, result = v.result "
    "FROM unnest(CAST(:ids AS text[]), CAST(:kinds AS text[]), CAST(:results AS text[])) "
    "AS v(approval_id, kind, result) WHERE t.approval_id = v.approval_id AND t.kind = v.kind"
)


async def save_timer_states(session: AsyncSession, approvals: Sequence[Approval]) -> None:
    """What timers change (status, decision time, escalation) for many requests, in one
    statement; one entry per request."""
    if approvals:
        await session.execute(
            _SAVE_STATES,
            {
                "ids": [a.id for a in approvals],
                "statuses": [a.status for a in approvals],
                "decided": [a.decided_at for a in approvals],
                "escalated": [a.escalated_at for a in approvals],
            },
        )


async def mark_fired(session: AsyncSession, fired: Sequence[FiredTimer], now: datetime) -> None:
    if fired:
        await session.execute(
            _MARK_FIRED,
            {
                "now": now,
                "ids": [f.approval_id for f in fired],
                "kinds": [f.kind for f in fired],
                "results": [f.result for f in fired],
            },
        )


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest unfired timer is due (the reconciler sleeps until then)."""
    statement = select(func.min(_T.c.due_at)).where(_T.c.fired_at.is_(None))
    value: datetime | None = (await session.execute(statement)).scalar_one()
    return value


async def list_page(
    session: AsyncSession,
    agency: str,
    filters: Filters,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
    decidable_by: tuple[Principal, datetime] | None = None,
) -> Page:
    """Newest first (``requested_at``, then id), after the keyset ``after``; ``decidable_by``
    (who, now): only what that principal could approve now (``rules.decidable_by`` in SQL)."""
    statement = select(_R).where(_R.c.agency == agency)
    if filters.status is not None:
        statement = statement.where(_R.c.status == filters.status)
    if filters.subject_kind is not None:
        statement = statement.where(_R.c.subject_kind == filters.subject_kind)
    if filters.subject_id is not None:
        statement = statement.where(_R.c.subject_id == filters.subject_id)
    if decidable_by is not None:
        statement = statement.where(*_decidable(*decidable_by))
    if after is not None:
        statement = statement.where(
            or_(
                _R.c.requested_at < after[0],
                and_(_R.c.requested_at == after[0], _R.c.id < after[1]),
            )
        )
    statement = statement.order_by(_R.c.requested_at.desc(), _R.c.id.desc()).limit(limit + 1)
    rows = (await session.execute(statement)).all()
    items = await _with_votes(session, rows[:limit])
    last = None
    if len(rows) > limit:
        tail = items[-1].approval
        last = (tail.requested_at, tail.id)
    return Page(items, last)


def _decidable(who: Principal, now: datetime) -> list[ColumnElement[bool]]:
    voted = select(_D.c.approval_id).where(_D.c.approval_id == _R.c.id, _D.c.approver == who.id)
    roles = literal(sorted(who.roles), ARRAY(Text))
    separated = _R.c.separation == "requester"
    if who.team is not None:
        separated = or_(
            separated, and_(_R.c.requester_team.is_not(None), _R.c.requester_team != who.team)
        )
    return [
        _R.c.status == "pending",
        _R.c.expires_at > now,
        _R.c.requested_by != who.id,
        or_(func.cardinality(_R.c.required_roles) == 0, _R.c.required_roles.overlap(roles)),
        separated,
        ~voted.exists(),
    ]


async def pending_counts(session: AsyncSession) -> dict[str, int]:
    """Pending requests by subject kind (the pending gauge, computed from the database)."""
    statement = (
        select(_R.c.subject_kind, func.count())
        .where(_R.c.status == "pending")
        .group_by(_R.c.subject_kind)
    )
    rows = (await session.execute(statement)).all()
    return {str(kind): int(count) for kind, count in rows}


async def terminal_among(session: AsyncSession, ids: Sequence[str]) -> list[str]:
    """Which of ``ids`` are terminal now (the long-poll's database check)."""
    if not ids:
        return []
    statement = select(_R.c.id).where(_R.c.id.in_(ids), _R.c.status != "pending")
    return list((await session.scalars(statement)).all())
