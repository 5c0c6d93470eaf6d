"""Approvals as contract messages (cortex.approval.*) and back: the one mapping between the
domain's words and the protobuf enums."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from approval_workflow.approvals.repository import StoredApproval
from approval_workflow.domain.model import Approval, Separation, SubjectKind, Terminal
from cortex_contracts import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalOutcome,
    ApprovalRequested,
    pack,
    subject_for,
)
from cortex_contracts import Separation as ProtoSeparation
from cortex_contracts import SubjectKind as ProtoSubjectKind
from cortex_kit.messaging.outbox import PendingEvent

SOURCE = "approval-workflow"
SUBJECT_KINDS: dict[SubjectKind, ProtoSubjectKind] = {
    "deployment": ProtoSubjectKind.SUBJECT_KIND_DEPLOYMENT,
    "decision": ProtoSubjectKind.SUBJECT_KIND_DECISION,
    "action": ProtoSubjectKind.SUBJECT_KIND_ACTION,
}
SUBJECT_KIND_OF: dict[ProtoSubjectKind, SubjectKind] = {v: k for k, v in SUBJECT_KINDS.items()}
SEPARATIONS: dict[Separation, ProtoSeparation] = {
    "requester": ProtoSeparation.SEPARATION_REQUESTER,
    "team": ProtoSeparation.SEPARATION_TEAM,
}
SEPARATION_OF: dict[ProtoSeparation, Separation] = {v: k for k, v in SEPARATIONS.items()}
OUTCOMES: dict[Terminal, ApprovalOutcome] = {
    "granted": ApprovalOutcome.APPROVAL_OUTCOME_GRANTED,
    "rejected": ApprovalOutcome.APPROVAL_OUTCOME_REJECTED,
    "expired": ApprovalOutcome.APPROVAL_OUTCOME_EXPIRED,
    "superseded": ApprovalOutcome.APPROVAL_OUTCOME_SUPERSEDED,
}


def timestamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at.astimezone(UTC))
    return stamp


def _event(
    payload: ApprovalRequested | ApprovalDecided | ApprovalEscalated, agency: str, at: datetime
) -> PendingEvent:
    envelope = pack(payload, agency=agency, source=SOURCE, occurred_at=at)
    return PendingEvent(subject_for(payload, agency), envelope)


def requested(stored: StoredApproval) -> PendingEvent:
    a, d = stored.approval, stored.details
    escalate_after = 0
    if a.escalate_at is not None:
        escalate_after = round((a.escalate_at - a.requested_at).total_seconds())
    payload = ApprovalRequested(
        approval_id=a.id,
        agency=a.agency,
        subject_kind=SUBJECT_KINDS[a.subject.kind],
        subject_id=a.subject.id,
        requested_by=a.requested_by,
        required_roles=list(a.requirement.required_roles),
        quorum=a.requirement.quorum,
        expires_at=timestamp(a.expires_at),
        risk_score=d.risk_score or 0.0,
        summary=d.summary,
        input_hash=a.subject.input_hash,
        escalate_after_s=escalate_after,
        escalate_to=a.escalate_to or "",
        reason=d.reason,
        rule_ids=list(d.rule_ids),
        policy_version=d.policy_version,
        requested_at=timestamp(a.requested_at),
        requester_team=a.requester_team or "",
        separation=SEPARATIONS[a.requirement.separation],
    )
    return _event(payload, a.agency, a.requested_at)


def _decided_by(a: Approval) -> list[str]:
    if a.status == "granted":
        return list(a.approvers)
    if a.status == "rejected":
        return [v.approver for v in a.votes if v.decision == "reject"]
    return []


def _decided_reason(a: Approval) -> str:
    if a.status == "rejected":
        return next((v.comment for v in a.votes if v.decision == "reject"), "")
    if a.status == "expired":
        return "expired before it was granted: fails closed"
    if a.status == "superseded":
        return f"superseded by the newer request {a.superseded_by}"
    return ""


def decided(a: Approval) -> PendingEvent:
    """The outcome of a request that became terminal."""
    assert a.status != "pending"
    assert a.decided_at is not None
    payload = ApprovalDecided(
        approval_id=a.id,
        agency=a.agency,
        outcome=OUTCOMES[a.status],
        decided_by=_decided_by(a),
        decided_at=timestamp(a.decided_at),
        reason=_decided_reason(a),
        subject_kind=SUBJECT_KINDS[a.subject.kind],
        subject_id=a.subject.id,
        superseded_by=a.superseded_by or "",
        requested_at=timestamp(a.requested_at),
        queue_seconds=a.queue_seconds() or 0.0,
        input_hash=a.subject.input_hash,
    )
    return _event(payload, a.agency, a.decided_at)


def escalated(stored: StoredApproval) -> PendingEvent:
    a = stored.approval
    assert a.escalated_at is not None
    payload = ApprovalEscalated(
        approval_id=a.id,
        agency=a.agency,
        subject_kind=SUBJECT_KINDS[a.subject.kind],
        subject_id=a.subject.id,
        escalate_to=a.escalate_to or "",
        requested_at=timestamp(a.requested_at),
        escalated_at=timestamp(a.escalated_at),
        expires_at=timestamp(a.expires_at),
        required_roles=list(a.requirement.required_roles),
        quorum=a.requirement.quorum,
        approvals=len(a.approvers),
        summary=stored.details.summary,
    )
    return _event(payload, a.agency, a.escalated_at)
