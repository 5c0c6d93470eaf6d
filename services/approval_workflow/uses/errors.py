"""Why a use of an approval is refused: one class per code (docs/approvals.md "Agent actions")."""

from __future__ import annotations

from cortex_kit.errors import Conflict, Forbidden


class UseForbidden(Forbidden):
    """Only the policy engine records uses (its signed principal ``service:policy-engine``)."""

    code = "approval_use_forbidden"
    title = "Only the policy engine may use approvals"


class ApprovalAgentMismatch(Forbidden):
    """The approval was asked for by another agent."""

    code = "approval_agent_mismatch"
    title = "Approval of another agent"


class ApprovalInputMismatch(Conflict):
    """The approval covers another exact input (another payload, resource, context…)."""

    code = "approval_input_mismatch"
    title = "Approval of another input"


class ApprovalNotGranted(Conflict):
    """The approval is still pending, or was rejected."""

    code = "approval_not_granted"
    title = "Approval not granted"
    extra_schema = {"approval_status": {"type": "string", "enum": ["pending", "rejected"]}}


class ApprovalUsed(Conflict):
    """The approval was used as many times as it allows."""

    code = "approval_used"
    title = "Approval used"
    extra_schema = {"uses": {"type": "integer"}, "allowance": {"type": "integer"}}
