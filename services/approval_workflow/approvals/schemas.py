"""Approvals' pydantic I/O (the public words: ``pending``, ``approve``, ``deployment``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from approval_workflow.approvals.repository import StoredApproval
from approval_workflow.domain.model import Separation, Status, SubjectKind, Verdict, Vote
from cortex_kit.text import IdentifierText, StorableText

Id = Annotated[IdentifierText, Field(min_length=1, max_length=200)]
Role = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
InputHash = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]{2,16}:[0-9a-f]{16,128}$",
        description="Hash of the exact input approved, e.g. `sha256:<hex>`.",
    ),
]
Comment = Annotated[StorableText, Field(max_length=2000)]


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: SubjectKind
    id: Id
    input_hash: InputHash


class ApprovalCreate(BaseModel):
    """A request for approval. The requester is the caller (``X-Cortex-Principal``)."""

    model_config = ConfigDict(extra="forbid")
    id: Id | None = Field(
        default=None, description="Natural key: a retry with the same id is answered as before."
    )
    subject: SubjectIn
    required_roles: list[Role] = Field(default_factory=list, max_length=20)
    quorum: int = Field(default=1, ge=1, le=20)
    expires_in_s: int | None = Field(
        default=None, ge=1, description="Seconds until it expires (default: 24 h)."
    )
    escalate_after_s: int | None = Field(default=None, ge=1)
    escalate_to: Id | None = None
    separation: Separation | None = Field(
        default=None, description="Only stricter than the service's rule ('team')."
    )
    summary: Comment = ""
    reason: Comment = ""
    rule_ids: list[Id] = Field(default_factory=list, max_length=50)
    policy_version: Annotated[StorableText, Field(max_length=200)] = ""
    risk_score: float | None = Field(default=None, ge=0, le=1)


class SubjectOut(BaseModel):
    kind: SubjectKind
    id: str
    input_hash: str


class TrailEntry(BaseModel):
    """One decision: who, with which roles, when, what, and why."""

    approver: str
    roles: list[str]
    team: str | None
    decision: Verdict
    comment: str
    decided_at: datetime

    @classmethod
    def of(cls, vote: Vote) -> TrailEntry:
        return cls(
            approver=vote.approver,
            roles=list(vote.roles),
            team=vote.team,
            decision=vote.decision,
            comment=vote.comment,
            decided_at=vote.at,
        )


class ApprovalOut(BaseModel):
    id: str
    agency: str
    status: Status
    subject: SubjectOut
    requested_by: str
    requester_team: str | None
    required_roles: list[str]
    quorum: int
    separation: Separation
    approvals: int = Field(description="Distinct approvers so far.")
    missing_roles: list[str] = Field(description="Required roles no approver holds yet.")
    requested_at: datetime
    expires_at: datetime
    escalate_at: datetime | None
    escalate_to: str | None
    escalated_at: datetime | None
    decided_at: datetime | None
    queue_seconds: float | None
    superseded_by: str | None
    summary: str
    reason: str
    rule_ids: list[str]
    policy_version: str
    risk_score: float | None
    trail: list[TrailEntry]

    @classmethod
    def of(cls, stored: StoredApproval) -> ApprovalOut:
        a, d = stored.approval, stored.details
        covered = {r for v in a.votes if v.decision == "approve" for r in v.roles}
        return cls(
            id=a.id,
            agency=a.agency,
            status=a.status,
            subject=SubjectOut(
                kind=a.subject.kind, id=a.subject.id, input_hash=a.subject.input_hash
            ),
            requested_by=a.requested_by,
            requester_team=a.requester_team,
            required_roles=list(a.requirement.required_roles),
            quorum=a.requirement.quorum,
            separation=a.requirement.separation,
            approvals=len(a.approvers),
            missing_roles=[r for r in a.requirement.required_roles if r not in covered],
            requested_at=a.requested_at,
            expires_at=a.expires_at,
            escalate_at=a.escalate_at,
            escalate_to=a.escalate_to,
            escalated_at=a.escalated_at,
            decided_at=a.decided_at,
            queue_seconds=a.queue_seconds(),
            superseded_by=a.superseded_by,
            summary=d.summary,
            reason=d.reason,
            rule_ids=list(d.rule_ids),
            policy_version=d.policy_version,
            risk_score=d.risk_score,
            trail=[TrailEntry.of(v) for v in a.votes],
        )


class ApprovalList(BaseModel):
    items: list[ApprovalOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Verdict
    comment: Comment = ""


class DecisionOut(BaseModel):
    approval: ApprovalOut
    decision: TrailEntry = Field(description="The caller's decision (the first one, if repeated).")
    repeated: bool = Field(description="The same decision was made before; nothing changed.")


class BulkItem(DecisionIn):
    approval_id: Id


class BulkDecisionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[BulkItem] = Field(min_length=1, max_length=100)


class Problem(BaseModel):
    """An item's refusal, as the route alone would answer it (RFC 9457 members)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    code: str
    detail: str
    remediation: str


class BulkResult(BaseModel):
    approval_id: str
    status: int = Field(description="The HTTP status this decision alone would get.")
    result: DecisionOut | None = None
    problem: Problem | None = None


class BulkDecisionsOut(BaseModel):
    items: list[BulkResult] = Field(description="One per item, in the order asked.")


ListStatus = Literal["pending", "granted", "rejected", "expired", "superseded"]
