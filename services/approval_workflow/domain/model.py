"""What an approval is: value types of the rules (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

SubjectKind = Literal["deployment", "decision", "action"]
Status = Literal["pending", "granted", "rejected", "expired", "superseded"]
Terminal = Literal["granted", "rejected", "expired", "superseded"]
Verdict = Literal["approve", "reject"]
Separation = Literal["requester", "team"]
"""Who may not approve: the requester (always), or anybody of the requester's team."""
TimerKind = Literal["expire", "escalate"]

SUBJECT_KINDS: tuple[SubjectKind, ...] = get_args(SubjectKind)
STATUSES: tuple[Status, ...] = get_args(Status)
TERMINAL: frozenset[Status] = frozenset(get_args(Terminal))
DEFAULT_EXPIRY = timedelta(hours=24)
_STRICTNESS: dict[Separation, int] = {"requester": 0, "team": 1}


def stricter(a: Separation, b: Separation) -> Separation:
    """The stricter of two separation rules (a request may only tighten the service's)."""
    return a if _STRICTNESS[a] >= _STRICTNESS[b] else b


@dataclass(frozen=True, slots=True)
class Subject:
    """What the approval unblocks: one exact input (``input_hash``) of one subject."""

    kind: SubjectKind
    id: str
    input_hash: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who decides: the caller's principal id, roles and team (the gateway's signed headers)."""

    id: str
    roles: frozenset[str]
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a grant needs: ``quorum`` distinct approvers covering every required role."""

    required_roles: tuple[str, ...]
    quorum: int
    separation: Separation = "requester"


@dataclass(frozen=True, slots=True)
class Vote:
    """One approver's decision (each approver decides once)."""

    approver: str
    roles: tuple[str, ...]
    team: str | None
    decision: Verdict
    comment: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    agency: str
    subject: Subject
    requested_by: str
    requester_team: str | None
    requirement: Requirement
    requested_at: datetime
    expires_at: datetime
    escalate_at: datetime | None = None
    escalate_to: str | None = None
    status: Status = "pending"
    votes: tuple[Vote, ...] = ()
    decided_at: datetime | None = None
    superseded_by: str | None = None
    escalated_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def approvers(self) -> tuple[str, ...]:
        """Distinct approvers so far, in the order they approved."""
        return tuple(dict.fromkeys(v.approver for v in self.votes if v.decision == "approve"))

    def vote_of(self, principal: str) -> Vote | None:
        return next((v for v in self.votes if v.approver == principal), None)

    def queue_seconds(self) -> float | None:
        """How long it waited for a human: from request to its terminal state."""
        if self.decided_at is None:
            return None
        return max(0.0, (self.decided_at - self.requested_at).total_seconds())
