"""The approval-workflow's errors (rendered as problem+json by the kit), one class per code."""

from __future__ import annotations

from cortex_kit.errors import AgencyRequired, Conflict, CortexError, Forbidden, NotFound


class ApprovalNotFound(NotFound):
    code = "approval_not_found"


class PrincipalRequired(CortexError):
    """The call does not say who the caller is (``X-Cortex-Principal``)."""

    code = "principal_required"
    title = "Principal required"


class InvalidRoles(CortexError):
    """``X-Cortex-Roles`` or ``X-Cortex-Team`` is not a list of lowercase identifiers."""

    code = "invalid_roles"
    title = "Invalid roles"


class InvalidCursor(CortexError):
    code = "invalid_cursor"
    title = "Invalid cursor"


class InvalidApproval(CortexError):
    """A request whose times or separation cannot work (expiry in the past, an escalation
    after the expiry, team separation without the requester's team)."""

    status = 422
    code = "invalid_approval"
    title = "Invalid approval request"


class ApprovalIdTaken(Conflict):
    """The id (or Idempotency-Key) was used for another request."""

    code = "approval_id_taken"
    title = "Approval id taken"


class SelfApproval(Forbidden):
    code = "self_approval_forbidden"
    title = "Self-approval forbidden"


class SameTeamApproval(Forbidden):
    code = "same_team_forbidden"
    title = "Approval from the requester's team forbidden"


class ApproverRoleMissing(Forbidden):
    code = "approver_role_missing"
    title = "Approver role missing"
    extra_schema = {"required_roles": {"type": "array", "items": {"type": "string"}}}


class AlreadyDecided(Conflict):
    """The approver decided otherwise before; that decision stands."""

    code = "already_decided"
    title = "Already decided"
    extra_schema = {
        "decision": {"type": "string", "enum": ["approve", "reject"]},
        "decided_at": {"type": "string", "format": "date-time"},
    }


class ApprovalClosed(Conflict):
    """The request was granted or rejected before this decision."""

    code = "approval_closed"
    title = "Approval closed"
    extra_schema = {"approval_status": {"type": "string", "enum": ["granted", "rejected"]}}


class ApprovalExpired(CortexError):
    status = 410
    code = "approval_expired"
    title = "Approval expired"


class ApprovalSuperseded(CortexError):
    status = 410
    code = "approval_superseded"
    title = "Approval superseded"
    extra_schema = {"superseded_by": {"type": "string"}}


class InvalidNotificationUrl(CortexError):
    """A notification target that is not an http(s) URL with a host (or does not resolve)."""

    status = 422
    code = "invalid_notification_url"
    title = "Invalid notification URL"
    extra_schema = {"target": {"type": "integer", "description": "Index in `targets`."}}


class NotificationUrlForbidden(CortexError):
    """A target on a loopback, private, link-local or otherwise non-public address (SSRF)."""

    status = 422
    code = "notification_url_forbidden"
    title = "Notification URL forbidden"
    extra_schema = {"target": {"type": "integer", "description": "Index in `targets`."}}


CALLER: tuple[type[CortexError], ...] = (AgencyRequired, PrincipalRequired, InvalidRoles)
"""What any route that reads the caller (agency, principal, roles) may answer."""
DECISION: tuple[type[CortexError], ...] = (
    ApprovalNotFound,
    SelfApproval,
    SameTeamApproval,
    ApproverRoleMissing,
    AlreadyDecided,
    ApprovalClosed,
    ApprovalExpired,
    ApprovalSuperseded,
)
"""What a decision may be refused with."""
