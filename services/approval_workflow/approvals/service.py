"""Use cases of approvals: create (API or event), decide, read, list, fire due timers. No
FastAPI, no NATS; the caller's session is the unit of work (these only flush)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from approval_workflow.approvals import events, repository
from approval_workflow.approvals.repository import Details, Filters, Page, StoredApproval
from approval_workflow.approvals.staging import Staging
from approval_workflow.approvals.waiting import Waiters
from approval_workflow.domain import rules
from approval_workflow.domain.model import (
    Approval,
    Principal,
    Requirement,
    Separation,
    Subject,
    TimerKind,
    Verdict,
    Vote,
    stricter,
)
from approval_workflow.errors import (
    AlreadyDecided,
    ApprovalClosed,
    ApprovalExpired,
    ApprovalIdTaken,
    ApprovalNotFound,
    ApprovalSuperseded,
    ApproverRoleMissing,
    InvalidApproval,
    SameTeamApproval,
    SelfApproval,
)
from approval_workflow.notifications.message import NotificationEvent
from approval_workflow.notifications.service import Notice
from cortex_kit.db import Database
from cortex_kit.errors import CortexError
from cortex_kit.logs import get_logger
from cortex_kit.messaging.outbox import PendingEvent

log = get_logger("approval_workflow.approvals")
CLOSED = "approval.closed"
"""``session.info``: the approvals this transaction made terminal (woken, counted on commit)."""
ESCALATED = "approval.escalated"


@dataclass(frozen=True, slots=True)
class NewApproval:
    """A request as asked (by API or by an ``approval.requested`` event)."""

    id: str
    agency: str
    subject: Subject
    requested_by: str
    requester_team: str | None
    required_roles: tuple[str, ...]
    quorum: int
    separation: Separation
    requested_at: datetime
    expires_at: datetime
    escalate_after: timedelta | None
    escalate_to: str | None
    details: Details
    origin: str  # api | event


@dataclass(frozen=True, slots=True)
class Created:
    stored: StoredApproval
    created: bool  # False: the same request was made before (a retry), answered as it is


@dataclass(frozen=True, slots=True)
class DecisionMade:
    stored: StoredApproval
    vote: Vote
    repeated: bool


def fingerprint(new: NewApproval) -> str:
    """What identifies a request's content, to tell a retry from a reused id."""
    content: dict[str, Any] = {
        "agency": new.agency,
        "subject": [new.subject.kind, new.subject.id, new.subject.input_hash],
        "requested_by": new.requested_by,
        "required_roles": sorted(new.required_roles),
        "quorum": new.quorum,
        "separation": new.separation,
        "escalate_after_s": new.escalate_after.total_seconds() if new.escalate_after else None,
        "escalate_to": new.escalate_to,
        "details": [new.details.summary, new.details.reason, list(new.details.rule_ids)],
        "policy_version": new.details.policy_version,
    }
    raw = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def check(new: NewApproval) -> None:
    """Requests whose rules cannot work are refused (API) or dead-lettered (events)."""
    if new.separation == "team" and not new.requester_team:
        raise InvalidApproval(
            "Team separation needs the requester's team, and it is unknown.",
            remediation="Call with the requester's team (X-Cortex-Team, or requester_team in "
            "the event), or ask for separation 'requester'.",
        )
    if new.escalate_after is not None:
        if new.escalate_to is None:
            raise InvalidApproval(
                "An escalation delay needs an escalation target.",
                remediation="Set escalate_to (a role, team or channel), or drop the delay.",
            )
        if new.requested_at + new.escalate_after >= new.expires_at:
            raise InvalidApproval(
                "The escalation delay ends after the request expires: it would never escalate.",
                remediation="Use an escalation delay shorter than the expiry.",
            )


def _approval(new: NewApproval, service_separation: Separation) -> Approval:
    escalate_at = new.requested_at + new.escalate_after if new.escalate_after else None
    requirement = Requirement(
        new.required_roles, new.quorum, stricter(new.separation, service_separation)
    )
    return Approval(
        id=new.id,
        agency=new.agency,
        subject=new.subject,
        requested_by=new.requested_by,
        requester_team=new.requester_team,
        requirement=requirement,
        requested_at=new.requested_at,
        expires_at=new.expires_at,
        escalate_at=escalate_at,
        escalate_to=new.escalate_to if escalate_at else None,
    )


def note(session: AsyncSession, key: str, approvals: Sequence[Approval]) -> None:
    if approvals:
        session.info.setdefault(key, []).extend(approvals)


async def create(
    session: AsyncSession,
    staging: Staging,
    new: NewApproval,
    *,
    service_separation: Separation,
    now: datetime,
) -> Created:
    """Store a request (a retry of the same one answers it as stored), supersede the older
    pending request for its subject, schedule its timers and stage its events."""
    check(new)
    stored = StoredApproval(
        _approval(new, service_separation), new.details, new.origin, fingerprint(new)
    )
    subject = new.subject
    await repository.lock_subject(session, new.agency, subject.kind, subject.id)
    if not await repository.insert(session, stored):
        return Created(_existing(await repository.get(session, new.id), stored), created=False)
    staged: list[PendingEvent] = [events.requested(stored)] if new.origin == "api" else []
    competing = {s.approval.id: s for s in await repository.competing(session, stored.approval)}
    outcome = rules.supersede(stored.approval, [s.approval for s in competing.values()], now)
    ended = [*outcome.superseded, *([outcome.new] if outcome.new.terminal else [])]
    for approval in ended:
        await repository.save_state(session, approval)
        staged.append(events.decided(approval))
    stored = replace(stored, approval=outcome.new)
    # Told: a new pending request, and the pending ones it superseded (a late request,
    # superseded at once, was never pending: nobody is told of it).
    notices = [
        Notice("superseded", replace(competing[a.id], approval=a)) for a in outcome.superseded
    ]
    if not outcome.new.terminal:
        await repository.insert_timers(session, new.id, _timers(outcome.new))
        notices.insert(0, Notice("requested", stored))
    await staging.stage(session, staged, notices)
    await session.flush()
    note(session, CLOSED, ended)  # last: nothing after it can fail this savepoint
    return Created(stored, created=True)


def _timers(approval: Approval) -> list[tuple[TimerKind, datetime]]:
    due: list[tuple[TimerKind, datetime]] = [("expire", approval.expires_at)]
    if approval.escalate_at is not None:
        due.append(("escalate", approval.escalate_at))
    return due


def _existing(found: StoredApproval | None, asked: StoredApproval) -> StoredApproval:
    if found is None or found.approval.agency != asked.approval.agency:
        raise ApprovalIdTaken(
            "This approval id is taken.",
            remediation="Use another id or Idempotency-Key for a new request.",
        )
    if found.fingerprint != asked.fingerprint:
        raise ApprovalIdTaken(
            f"Approval {asked.approval.id!r} exists with other content.",
            remediation="Retry with exactly the same request, or use another id or "
            "Idempotency-Key for a new request.",
        )
    return found


async def get(
    session: AsyncSession, agency: str, approval_id: str, *, lock: bool = False
) -> StoredApproval:
    stored = await repository.get(session, approval_id, lock=lock)
    if stored is None or stored.approval.agency != agency:
        raise ApprovalNotFound(
            f"No approval {approval_id!r} in this agency.",
            remediation="Check the id; GET /v1/approvals lists the agency's requests.",
        )
    return stored


async def list_approvals(
    session: AsyncSession,
    agency: str,
    filters: Filters,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
    decidable_by: Principal | None,
    now: datetime,
) -> Page:
    return await repository.list_page(
        session,
        agency,
        filters,
        after=after,
        limit=limit,
        decidable_by=(decidable_by, now) if decidable_by is not None else None,
    )


async def decide(
    session: AsyncSession,
    staging: Staging,
    agency: str,
    approval_id: str,
    who: Principal,
    decision: Verdict,
    comment: str,
    now: datetime,
) -> DecisionMade:
    """One approver's decision, under the request's row lock (concurrent decisions on one
    request apply one after the other). Refusals raise their error class."""
    stored = await get(session, agency, approval_id, lock=True)
    result = rules.decide(stored.approval, who, decision, comment, now)
    if isinstance(result, rules.Refused):
        raise refusal_error(stored.approval, result)
    if result.repeated:
        return DecisionMade(stored, result.vote, repeated=True)
    await repository.insert_vote(session, approval_id, result.vote)
    after = replace(stored, approval=result.approval)
    if result.closed:
        await repository.save_state(session, result.approval)
        outcome: NotificationEvent = (
            "granted" if result.approval.status == "granted" else "rejected"
        )
        await staging.stage(session, [events.decided(result.approval)], [Notice(outcome, after)])
    await session.flush()
    if result.closed:
        note(session, CLOSED, [result.approval])
    log.info(
        "approval.decided",
        approval_id=approval_id,
        decision=decision,
        status=result.approval.status,
    )
    return DecisionMade(after, result.vote, repeated=False)


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One decision of a bulk call: what it made, or the error it would get alone."""

    id: str
    result: DecisionMade | CortexError


async def decide_each(
    session: AsyncSession,
    staging: Staging,
    agency: str,
    caller: Principal,
    items: Sequence[tuple[str, Verdict, str]],
    clock: Callable[[], datetime],
) -> list[ItemOutcome]:
    """Each ``(approval id, decision, comment)`` decided in its own savepoint and answered in
    the order asked; those that succeed commit together. Requests are locked in id order, so
    two bulk calls never deadlock."""
    outcomes: dict[int, ItemOutcome] = {}
    for n in sorted(range(len(items)), key=lambda k: items[k][0]):
        approval_id, decision, comment = items[n]
        try:
            async with session.begin_nested():
                made = await decide(
                    session, staging, agency, approval_id, caller, decision, comment, clock()
                )
            outcomes[n] = ItemOutcome(approval_id, made)
        except CortexError as exc:
            outcomes[n] = ItemOutcome(approval_id, exc)
    return [outcomes[n] for n in range(len(items))]


async def read_waiting(
    db: Database, waiters: Waiters, agency: str, approval_id: str, wait_s: float
) -> StoredApproval:
    """The request with its trail; with ``wait_s`` > 0, as soon as it is terminal or when the
    wait ends (then as it is). No database connection is held while waiting."""
    future = waiters.register(approval_id) if wait_s > 0 else None
    try:
        async with db.session() as session:
            stored = await get(session, agency, approval_id)
        if future is None or stored.approval.terminal:
            return stored
        if not await waiters.wait(future, wait_s):
            return stored
        async with db.session() as session:
            return await get(session, agency, approval_id)
    finally:
        if future is not None:
            waiters.release(approval_id, future)


def refusal_error(approval: Approval, refused: rules.Refused) -> CortexError:
    reason = refused.reason
    if reason == "already_decided" and refused.existing is not None:
        vote = refused.existing
        return AlreadyDecided(
            f"You already decided {vote.decision!r} on this request; a decision is final.",
            remediation="Each approver decides once. Repeat the same decision to read it back.",
            extra={"decision": vote.decision, "decided_at": vote.at.isoformat()},
        )
    if reason == "self_approval":
        return SelfApproval(
            "The requester may not approve its own request.",
            remediation="Ask another approver holding one of the required roles.",
        )
    if reason == "same_team":
        return SameTeamApproval(
            "This request needs an approver outside the requester's team (and your team is "
            "not known to differ).",
            remediation="Ask an approver of another team; the gateway must send X-Cortex-Team.",
        )
    if reason == "role_missing":
        roles = list(approval.requirement.required_roles)
        return ApproverRoleMissing(
            f"Deciding needs one of the roles {', '.join(roles)}.",
            remediation="Ask an approver holding one of the required roles.",
            extra={"required_roles": roles},
        )
    if reason == "expired":
        return ApprovalExpired(
            "The request expired before this decision; it failed closed.",
            remediation="Request approval again (a new request for the same subject).",
        )
    if reason == "superseded":
        return ApprovalSuperseded(
            f"The request was superseded by {approval.superseded_by}.",
            remediation="Decide on the newer request instead.",
            extra={"superseded_by": approval.superseded_by or ""},
        )
    return ApprovalClosed(
        f"The request is already {reason}; it takes no more decisions.",
        remediation="Nothing to do; request approval again if the subject changed.",
        extra={"approval_status": reason},
    )


async def fire_due(session: AsyncSession, staging: Staging, now: datetime, limit: int) -> int:
    """Claim up to ``limit`` due timers with their requests (one statement, FOR UPDATE SKIP
    LOCKED), apply them with the pure rule, and store the states, the fired marks and the
    events in a few batched statements of this transaction: each timer fires once, on one
    replica."""
    claimed = await repository.claim_due_timers(session, now, limit)
    current: dict[str, StoredApproval] = {}
    fired: list[repository.FiredTimer] = []
    staged: list[PendingEvent] = []
    notices: list[Notice] = []
    expired: list[Approval] = []
    escalated: list[Approval] = []
    for timer in claimed:  # by due time: a request's escalation before its expiry
        stored = current.get(timer.stored.approval.id, timer.stored)
        after = rules.fire(stored.approval, timer.kind, now)
        fired.append(repository.FiredTimer(stored.approval.id, timer.kind, _result(after)))
        if after is None:
            continue
        stored = current[after.id] = replace(stored, approval=after)
        if timer.kind == "expire":
            staged.append(events.decided(after))
            notices.append(Notice("expired", stored))
            expired.append(after)
        else:
            staged.append(events.escalated(stored))
            notices.append(Notice("escalated", stored))
            escalated.append(after)
    await repository.save_timer_states(session, [s.approval for s in current.values()])
    await repository.mark_fired(session, fired, now)
    await staging.stage(session, staged, notices)
    await session.flush()
    note(session, CLOSED, expired)
    note(session, ESCALATED, escalated)
    return len(claimed)


def _result(after: Approval | None) -> str:
    return "moot" if after is None else "fired"
