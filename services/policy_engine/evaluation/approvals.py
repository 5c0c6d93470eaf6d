"""Approvals of agent actions (docs/approvals.md "Agent actions: from require_approval to allow").

A ``require_approval`` answer creates an approval request: an ``ApprovalRequested`` event,
committed with the decision before the answer. The agent waits on it and authorizes again
with ``approval_id``; the engine then asks the approval workflow to *use* it, bound to the
exact input (``action_input_hash``), the agent and the grant's window, and answers ``allow``
or, refused, ``require_approval`` again with the refusal's reason. Pure logic and the client
protocol; the HTTP client is ``approval_client.py``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cortex_contracts import ApprovalRequested, SubjectKind, pack, subject_for
from cortex_kit.messaging.outbox import PendingEvent
from policy_engine.domain.decisions.decision import (
    ApprovalRequirement,
    DecisionResult,
    Reason,
    docs_url,
)
from policy_engine.evaluation.schemas import AuthorizeRequest

SOURCE = "policy-engine"
APPROVED = "approved"
APPROVAL_UNVERIFIABLE = "approval_unverifiable"
DEFAULT_EXPIRY_S = 86_400
MAX_TEXT = 2_000

NEW_REQUEST_AFTER = frozenset(
    {
        "approval_input_mismatch",  # another input: that input needs its own approval
        "approval_agent_mismatch",  # another agent's: this agent needs its own
        "approval_expired",  # the need still stands, the grant is gone
        "approval_used",  # the allowance is spent: a repeated action is a new approval
        "approval_not_found",
    }
)
"""Refusals after which the engine asks for a new approval. The others keep the one named:
``approval_not_granted`` (pending: keep waiting; rejected: stays rejected),
``approval_superseded`` (a newer one exists) and ``approval_unverifiable`` (retry)."""


def _canonical(value: Any) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8: the same value always gives the same bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
    ).encode()


def action_input(req: AuthorizeRequest) -> dict[str, Any]:
    """What an approval of an action is bound to: every field of the request but
    ``approval_id`` — the agent, its team, the action (type, resource, labels, model, autonomy,
    data class, destination, estimates), the deployment, the payload and the context — as
    validated (defaults filled in)."""
    return req.model_dump(mode="json", exclude={"approval_id"})


def action_input_hash(req: AuthorizeRequest) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``action_input(req)``."""
    return "sha256:" + hashlib.sha256(_canonical(action_input(req))).hexdigest()


def action_subject_id(agent_id: str, action_type: str, resource: str) -> str:
    """The approval subject of an action: stable per (agent, action, resource), so the same
    agent asking again for the same action on the same resource supersedes its older pending
    request (whatever the payload)."""
    digest = hashlib.sha256(_canonical([agent_id, action_type, resource])).hexdigest()
    return f"action-{digest[:32]}"


# ---------------------------------------------------------------------------- the client


@dataclass(frozen=True, slots=True)
class UseAnswer:
    """What the approval workflow answered to a use: granted (with the approvers), or
    refused with its problem's code, detail and remediation."""

    granted: bool
    code: str = ""
    detail: str = ""
    remediation: str = ""
    approvers: tuple[str, ...] = ()
    approval_status: str | None = None
    superseded_by: str | None = None


class ApprovalUnverifiable(Exception):
    """The approval workflow could not be asked (down, timed out, an unexpected answer)."""


class ApprovalUses(Protocol):
    """Use a granted approval for one decision (``POST /v1/approvals/{id}/uses``)."""

    async def use(
        self, agency: str, approval_id: str, *, input_hash: str, agent_id: str, decision_id: str
    ) -> UseAnswer: ...


# ---------------------------------------------------------------------------- the answer


def _iso(at: datetime) -> str:
    """ISO 8601 as pydantic renders an aware datetime (UTC as ``Z``)."""
    text = at.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True, slots=True)
class ApprovalTicket:
    """The approval an answer names: a new request, the one used, or the one refused."""

    id: str
    status: str  # pending | granted | rejected | superseded | expired | used | unknown
    input_hash: str
    subject_id: str
    expires_at: datetime | None
    approvers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "status_url": f"/v1/approvals/{self.id}",
            "input_hash": self.input_hash,
            "subject_id": self.subject_id,
            "expires_at": _iso(self.expires_at) if self.expires_at else None,
            "approvers": list(self.approvers),
        }


@dataclass(frozen=True, slots=True)
class Bound:
    """A require_approval result after the approval named was checked."""

    result: DecisionResult
    ticket: ApprovalTicket
    new_request: bool
    """A new approval request must be staged (``ticket`` is it)."""


def new_ticket(
    req: AuthorizeRequest, input_hash: str, requirement: ApprovalRequirement, now: datetime
) -> ApprovalTicket:
    expires_in = requirement.expires_in_s or DEFAULT_EXPIRY_S
    return ApprovalTicket(
        id=str(uuid.uuid4()),
        status="pending",
        input_hash=input_hash,
        subject_id=action_subject_id(req.agent_id, req.action.type, req.action.resource),
        expires_at=now + timedelta(seconds=expires_in),
    )


def approved(result: DecisionResult, approval_id: str, answer: UseAnswer) -> DecisionResult:
    """``allow``: the require_approval reasons are lifted by the grant (named, with its
    approvers); every other reason (masking, alerts) stays."""
    rules = result.approval.rule_ids if result.approval else ()
    who = ", ".join(answer.approvers) or "its approvers"
    reason = Reason(
        code=APPROVED,
        severity="info",
        effect="allow",
        message=f"Approved by {who} (approval {approval_id}).",
        remediation="",
        docs_url=docs_url(APPROVED),
        rule_id=",".join(rules) or None,
    )
    kept = tuple(r for r in result.reasons if r.effect != "require_approval")
    return result._replace(decision="allow", reasons=(reason, *kept))


def _refusal(approval_id: str, code: str, detail: str, remediation: str) -> Reason:
    return Reason(
        code=code,
        severity="medium",
        effect="require_approval",
        message=f"Approval {approval_id} was not used: {detail}",
        remediation=remediation,
        docs_url=docs_url(code),
    )


_STATUS_OF = {
    "approval_superseded": "superseded",
    "approval_expired": "expired",
    "approval_used": "used",
    APPROVAL_UNVERIFIABLE: "unknown",
}


def refused(
    result: DecisionResult,
    requirement: ApprovalRequirement,
    req: AuthorizeRequest,
    approval_id: str,
    answer: UseAnswer,
    input_hash: str,
    now: datetime,
) -> Bound:
    """``require_approval`` again, with why the approval was refused first; a new request
    when the refusal means one is needed (``NEW_REQUEST_AFTER``)."""
    reason = _refusal(approval_id, answer.code, answer.detail, answer.remediation)
    if answer.code in NEW_REQUEST_AFTER:
        ticket = new_ticket(req, input_hash, requirement, now)
        reason = reason._replace(
            remediation=f"{answer.remediation} A new approval was requested: {ticket.id}."
        )
        return Bound(result._replace(reasons=(reason, *result.reasons)), ticket, True)
    refused_result = result._replace(reasons=(reason, *result.reasons))
    status = answer.approval_status or _STATUS_OF.get(answer.code, "unknown")
    ticket = ApprovalTicket(
        id=approval_id,
        status=status,
        input_hash=input_hash,
        subject_id=action_subject_id(req.agent_id, req.action.type, req.action.resource),
        expires_at=None,
    )
    return Bound(refused_result, ticket, False)


def unverifiable() -> UseAnswer:
    return UseAnswer(
        granted=False,
        code=APPROVAL_UNVERIFIABLE,
        detail="the approval workflow could not be reached to verify it.",
        remediation="Retry: authorize again with the same approval_id in a few seconds.",
    )


def _text(value: str) -> str:
    return value[:MAX_TEXT]


def requested_event(
    *,
    agency: str,
    ticket: ApprovalTicket,
    requirement: ApprovalRequirement,
    agent_id: str,
    principal: str | None,
    team: str | None,
    action_type: str,
    resource: str,
    reasons: Sequence[Reason],
    risk_score: float,
    policy_version: str,
    now: datetime,
    trace_context: dict[str, str],
) -> PendingEvent:
    """The ``approval.requested`` event of a new action approval (what is shown is masked:
    pass the stored fields and reasons)."""
    on = f" on {resource}" if resource else ""
    by = f" (key {principal})" if principal and principal != agent_id else ""
    blocking = [r.message for r in reasons if r.effect == "require_approval"]
    payload = ApprovalRequested(
        approval_id=ticket.id,
        agency=agency,
        subject_kind=SubjectKind.SUBJECT_KIND_ACTION,
        subject_id=ticket.subject_id,
        requested_by=agent_id,
        required_roles=list(requirement.roles),
        quorum=requirement.quorum,
        risk_score=risk_score,
        summary=_text(f"Agent {agent_id}{by} asks to {action_type}{on}."),
        input_hash=ticket.input_hash,
        reason=_text("; ".join(blocking)),
        rule_ids=list(requirement.rule_ids),
        policy_version=policy_version,
        requester_team=team or "",
    )
    if ticket.expires_at is not None:
        payload.expires_at.FromDatetime(ticket.expires_at)
    payload.requested_at.FromDatetime(now)
    return PendingEvent(
        subject_for(payload, agency),
        pack(payload, agency=agency, source=SOURCE, occurred_at=now, trace_context=trace_context),
    )
