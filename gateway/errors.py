"""The gateway's errors (one class per code) and the problem answers its routes declare."""

from __future__ import annotations

from typing import Any

from cortex_kit.errors import (
    AgencyForbidden,
    AgencyRequired,
    CortexError,
    Forbidden,
    NotFound,
    Unauthorized,
    UpstreamTimeout,
    problem_responses,
)
from gateway.protection.errors import RateLimited


class MissingApiKey(Unauthorized):
    code = "missing_api_key"
    title = "API key missing"


class InvalidApiKey(Unauthorized):
    code = "invalid_api_key"
    title = "API key invalid"


class RoleForbidden(Forbidden):
    """The key's role may not call this route."""

    code = "role_forbidden"
    extra_schema = {"required_roles": {"type": "array", "items": {"type": "string"}}}


class OrgAdminRequired(Forbidden):
    """A write that governs every agency, with a key scoped to one."""

    code = "org_admin_required"


class AgencyConflict(CortexError):
    """The request names different agencies in different places."""

    status = 422
    code = "agency_conflict"
    title = "Conflicting agencies"
    extra_schema = {"agencies": {"type": "array", "items": {"type": "string"}}}


class InvalidAgency(CortexError):
    status = 422
    code = "invalid_agency"
    title = "Invalid agency"


class InvalidBearerToken(Unauthorized):
    """A person's OIDC token that does not verify: signature, issuer, audience or expiry."""

    code = "invalid_bearer_token"


class OidcClaimsInsufficient(Forbidden):
    """A valid OIDC token whose claims name no role or no agency."""

    code = "oidc_claims_insufficient"


class RouteNotInKeyScope(Forbidden):
    """The key is limited to some routes (``routes`` at creation), and this is not one."""

    code = "route_not_in_key_scope"
    extra_schema = {"key_routes": {"type": "array", "items": {"type": "string"}}}


class UnknownRouteScope(CortexError):
    """A route scope asked for a key names no route of the API."""

    status = 422
    code = "unknown_route_scope"
    title = "Unknown route scope"
    extra_schema = {"unknown": {"type": "array", "items": {"type": "string"}}}


class ApprovalRolesNeedApprover(CortexError):
    """Approval roles asked for a key whose role may not decide approvals."""

    status = 422
    code = "approval_roles_need_approver"
    title = "Approval roles need an approver key"


class KeyNotFound(NotFound):
    code = "key_not_found"


class InvalidEvent(CortexError):
    status = 422
    code = "invalid_event"
    title = "Invalid event"


class IncidentBeforeDeployment(CortexError):
    """An incident names, as its cause, a deployment that finished after it opened."""

    status = 422
    code = "incident_before_deployment"
    title = "Incident opened before its cause"
    extra_schema = {
        "field": {"type": "string"},
        "deployment_id": {"type": "string"},
        "deployment_finished_at": {"type": "string", "format": "date-time"},
    }


class BatchTooLarge(CortexError):
    status = 413
    code = "batch_too_large"
    title = "Batch too large"


AUTHENTICATED: tuple[type[CortexError], ...] = (
    MissingApiKey,
    InvalidApiKey,
    RoleForbidden,
    RouteNotInKeyScope,
    InvalidBearerToken,
    OidcClaimsInsufficient,
    UpstreamTimeout,
    RateLimited,
)
"""What every route that takes an API key may answer (the key's rate limit included)."""

AGENCY_SCOPED: tuple[type[CortexError], ...] = (
    AgencyRequired,
    AgencyForbidden,
    AgencyConflict,
    InvalidAgency,
)
"""What a route that resolves the agency it acts on (``resolve_agency``) may answer."""


def gateway_responses(*errors: type[CortexError]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an authenticated gateway route that may also raise ``errors``."""
    return problem_responses(*AUTHENTICATED, *errors)
