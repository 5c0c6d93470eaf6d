"""Use case: use a granted action approval for one re-authorized decision (docs/approvals.md
"Agent actions"). Under the request's row lock, so two decisions never both take the last use
and a use never races a decision or an expiry. No FastAPI; the caller's session commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from approval_workflow.approvals import repository as approvals
from approval_workflow.domain.model import Approval
from approval_workflow.errors import ApprovalExpired, ApprovalNotFound, ApprovalSuperseded
from approval_workflow.uses import repository
from approval_workflow.uses.errors import (
    ApprovalAgentMismatch,
    ApprovalInputMismatch,
    ApprovalNotGranted,
    ApprovalUsed,
)
from approval_workflow.uses.repository import UseRow

ALLOWANCE = 1
"""Uses a grant allows: one action, once (a repeated action needs a new approval)."""


@dataclass(frozen=True, slots=True)
class UseAsked:
    approval_id: str
    input_hash: str
    agent_id: str
    decision_id: str


@dataclass(frozen=True, slots=True)
class UseGranted:
    approval_id: str
    decision_id: str
    agent_id: str
    approvers: tuple[str, ...]
    uses: int
    allowance: int
    expires_at: datetime
    repeated: bool


def _refuse_binding(approval: Approval, asked: UseAsked) -> None:
    """The approval is for this agent and this exact input, else refused."""
    if approval.requested_by != asked.agent_id:
        raise ApprovalAgentMismatch(
            f"Approval {approval.id!r} was asked for by another agent.",
            remediation="An approval unblocks the agent that asked for it only: authorize "
            "without this approval_id to ask for your own approval.",
        )
    if approval.subject.kind != "action" or approval.subject.input_hash != asked.input_hash:
        raise ApprovalInputMismatch(
            f"Approval {approval.id!r} covers another input ({approval.subject.input_hash}, "
            f"not {asked.input_hash}).",
            remediation="An approval unblocks the exact action approved: send the same agent, "
            "action, resource, payload and context, or have the new input approved.",
        )


def _refuse_state(approval: Approval, now: datetime) -> None:
    """Granted and within its window (before ``expires_at``), else refused."""
    if approval.status == "superseded":
        raise ApprovalSuperseded(
            f"Approval {approval.id!r} was superseded by {approval.superseded_by!r}.",
            remediation="Wait on the newer approval and authorize with its id.",
            extra={"superseded_by": approval.superseded_by or ""},
        )
    if approval.status == "expired" or (
        approval.status == "granted" and now >= approval.expires_at
    ):
        raise ApprovalExpired(
            f"Approval {approval.id!r} expired at {approval.expires_at.isoformat()}.",
            remediation="Authorize again without the approval_id: a new approval is requested.",
        )
    if approval.status != "granted":
        raise ApprovalNotGranted(
            f"Approval {approval.id!r} is {approval.status}.",
            remediation="Wait for it (GET /v1/approvals/{id}?wait=30) and authorize again once "
            "it is granted."
            if approval.status == "pending"
            else "A rejected approval stays rejected: change the action, or ask again.",
            extra={"approval_status": approval.status},
        )


async def use(session: AsyncSession, agency: str, asked: UseAsked, now: datetime) -> UseGranted:
    """Record one use of a granted approval by ``asked.decision_id``; the same decision asking
    again gets the same answer (``repeated``). Every refusal is a problem with its code."""
    stored = await approvals.get(session, asked.approval_id, lock=True)
    if stored is None or stored.approval.agency != agency:
        raise ApprovalNotFound(
            f"No approval {asked.approval_id!r} in agency {agency!r}.",
            remediation="Use the approval id the authorize answer gave.",
        )
    approval = stored.approval
    _refuse_binding(approval, asked)
    used = await repository.count(session, approval.id)
    prior = await repository.find(session, approval.id, asked.decision_id)
    if prior is not None:  # the same decision again (a retry): the same answer, no new use
        return _granted(approval, asked, used, repeated=True)
    _refuse_state(approval, now)
    if used >= ALLOWANCE:
        raise ApprovalUsed(
            f"Approval {approval.id!r} was used {used} time(s), its allowance.",
            remediation="An approval unblocks one action: authorize again without the "
            "approval_id to ask for a new approval.",
            extra={"uses": used, "allowance": ALLOWANCE},
        )
    await repository.insert(
        session,
        UseRow(approval.id, asked.decision_id, asked.agent_id, asked.input_hash, now),
    )
    await session.flush()
    return _granted(approval, asked, used + 1, repeated=False)


def _granted(approval: Approval, asked: UseAsked, uses: int, *, repeated: bool) -> UseGranted:
    return UseGranted(
        approval_id=approval.id,
        decision_id=asked.decision_id,
        agent_id=asked.agent_id,
        approvers=approval.approvers,
        uses=uses,
        allowance=ALLOWANCE,
        expires_at=approval.expires_at,
        repeated=repeated,
    )
