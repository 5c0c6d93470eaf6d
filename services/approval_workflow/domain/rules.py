"""The approval rules, pure: who may decide, when a request is granted, rejected, expired,
escalated or superseded. Every function takes the time it applies at (a controllable clock)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from approval_workflow.domain.model import (
    Approval,
    Principal,
    Requirement,
    Status,
    TimerKind,
    Verdict,
    Vote,
)

Refusal = Literal[
    "self_approval",  # the requester approving its own request
    "same_team",  # an approver of the requester's team (or of no known team) under "team"
    "role_missing",  # the decider holds none of the required roles
    "already_decided",  # the decider decided otherwise before
    "granted",  # the request is closed: granted, rejected, expired or superseded
    "rejected",
    "expired",
    "superseded",
]


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    existing: Vote | None = None  # for "already_decided": the decision that stands


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision accepted (``repeated``: the same decider said the same before — nothing
    changed). ``approval`` is the request after it; ``closed`` when it became terminal."""

    approval: Approval
    vote: Vote
    repeated: bool = False
    closed: bool = False


def outcome(requirement: Requirement, votes: Iterable[Vote]) -> Status:
    """Any rejection rejects; a grant needs ``quorum`` distinct approvers whose roles together
    cover every required role; otherwise the request stays pending."""
    approvers: set[str] = set()
    covered: set[str] = set()
    for vote in votes:
        if vote.decision == "reject":
            return "rejected"
        approvers.add(vote.approver)
        covered.update(vote.roles)
    if len(approvers) >= requirement.quorum and covered.issuperset(requirement.required_roles):
        return "granted"
    return "pending"


def eligibility(approval: Approval, who: Principal, decision: Verdict) -> Refusal | None:
    """Why ``who`` may not make ``decision`` on ``approval``, or None. Only approving is
    separated from the requester: a requester holding a required role may reject (withdraw)."""
    required = approval.requirement.required_roles
    if required and who.roles.isdisjoint(required):
        return "role_missing"
    if decision == "reject":
        return None
    if who.id == approval.requested_by:
        return "self_approval"
    if approval.requirement.separation == "team" and (
        who.team is None or approval.requester_team is None or who.team == approval.requester_team
    ):
        return "same_team"  # an unknown team cannot prove separation: fails closed
    return None


def decide(
    approval: Approval, who: Principal, decision: Verdict, comment: str, now: datetime
) -> Decided | Refused:
    """One decider's decision. Each decider decides once: the same decision again is answered
    as before (idempotent), another one is refused with the decision that stands. A request
    that is terminal, or past its expiry, takes no new decision (fails closed)."""
    existing = approval.vote_of(who.id)
    if existing is not None:
        if existing.decision == decision:
            return Decided(approval, existing, repeated=True)
        return Refused("already_decided", existing)
    if approval.status != "pending":
        return Refused(approval.status)
    if now >= approval.expires_at:
        return Refused("expired")
    refusal = eligibility(approval, who, decision)
    if refusal is not None:
        return Refused(refusal)
    roles = tuple(sorted(who.roles))
    vote = Vote(who.id, roles, who.team, decision, comment, now)
    votes = (*approval.votes, vote)
    status = outcome(approval.requirement, votes)
    if status == "pending":
        return Decided(replace(approval, votes=votes), vote)
    return Decided(replace(approval, votes=votes, status=status, decided_at=now), vote, closed=True)


def fire(approval: Approval, kind: TimerKind, now: datetime) -> Approval | None:
    """The request after its ``kind`` timer fires at ``now``, or None when the timer has
    nothing to do (not due yet, already terminal, already escalated)."""
    if approval.terminal:
        return None
    if kind == "expire":
        if now < approval.expires_at:
            return None
        return replace(approval, status="expired", decided_at=now)
    if approval.escalate_at is None or approval.escalated_at is not None:
        return None
    if now < approval.escalate_at:
        return None
    return replace(approval, escalated_at=now)


def _order(approval: Approval) -> tuple[datetime, str]:
    return (approval.requested_at, approval.id)


@dataclass(frozen=True, slots=True)
class Supersession:
    """A new request and the requests for the same subject it ends."""

    new: Approval
    superseded: tuple[Approval, ...]


def supersede(new: Approval, same_subject: Sequence[Approval], now: datetime) -> Supersession:
    """Only the newest request for a subject (agency, kind, id) may be pending: a newer one
    ends the older pending ones ``superseded`` naming it; a request older than one already
    known (late delivery) is superseded at once by the newest. Newest = latest
    ``requested_at``, then the greater id."""
    others = [a for a in same_subject if a.id != new.id]
    if not others:
        return Supersession(new, ())
    newest = max(others, key=_order)
    if _order(newest) > _order(new):
        return Supersession(_superseded(new, newest.id, now), ())
    ended = tuple(_superseded(a, new.id, now) for a in others if a.status == "pending")
    return Supersession(new, ended)


def _superseded(approval: Approval, by: str, now: datetime) -> Approval:
    if approval.terminal:
        return approval
    return replace(approval, status="superseded", superseded_by=by, decided_at=now)


def decidable_by(approval: Approval, who: Principal, now: datetime) -> bool:
    """Whether ``who`` could approve ``approval`` now (``mine=decidable``)."""
    return (
        approval.status == "pending"
        and now < approval.expires_at
        and approval.vote_of(who.id) is None
        and eligibility(approval, who, "approve") is None
    )
