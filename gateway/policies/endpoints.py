"""Policies and authorization at the gateway: role checks, agency scoping, relay to the engine.

Request and response bodies are the policy-engine's (see docs/policies.md and /docs there).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response

from gateway.auth.deps import require, require_org_wide, resolve_agency
from gateway.domain.keys import READ_ROLES, Principal, Role
from gateway.errors import AGENCY_SCOPED, OrgAdminRequired, gateway_responses
from gateway.relay import relay, segment

router = APIRouter(tags=["policies"])
# The engine's own problems (policy_invalid, policy_not_found, ...) are relayed as they are;
# its OpenAPI lists them. These are the gateway's.
AUTHENTICATED = gateway_responses()
SCOPED = gateway_responses(*AGENCY_SCOPED)
ORG_WIDE = gateway_responses(OrgAdminRequired)
ENGINE = "policy_engine"
Agent = Annotated[Principal, Depends(require(Role.AGENT))]
Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
PolicyAdmin = Annotated[Principal, Depends(require(Role.POLICY_ADMIN))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
YAML_BODY = {"requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}}}


@router.post("/v1/authorize", responses=SCOPED)
async def authorize(request: Request, caller: Agent, agency: str | None = None) -> Response:
    """An agent asks before acting: allow / deny / require_approval with every reason."""
    return await relay(
        request,
        caller,
        ENGINE,
        "/v1/authorize",
        resolve_agency(caller, request, agency),
        with_body=True,
    )


@router.post("/v1/decisions/{decision_id}/usage", responses=SCOPED)
async def report_usage(
    decision_id: str, request: Request, caller: Agent, agency: str | None = None
) -> Response:
    """Settle the actual cost and tokens of an allowed action."""
    return await relay(
        request,
        caller,
        ENGINE,
        f"/v1/decisions/{segment(decision_id)}/usage",
        resolve_agency(caller, request, agency),
        with_body=True,
    )


@router.get("/v1/decisions", responses=SCOPED)
async def list_decisions(request: Request, caller: Reader, agency: str | None = None) -> Response:
    return await relay(
        request, caller, ENGINE, "/v1/decisions", resolve_agency(caller, request, agency)
    )


@router.get("/v1/decisions/{decision_id}", responses=SCOPED)
async def get_decision(
    decision_id: str, request: Request, caller: Reader, agency: str | None = None
) -> Response:
    return await relay(
        request,
        caller,
        ENGINE,
        f"/v1/decisions/{segment(decision_id)}",
        resolve_agency(caller, request, agency),
    )


@router.post("/v1/policies/validate", openapi_extra=YAML_BODY, responses=AUTHENTICATED)
async def validate_policy(request: Request, caller: Reader) -> Response:
    """Validate a policy without publishing it (every problem with line and column)."""
    return await relay(
        request, caller, ENGINE, "/v1/policies/validate", caller.agency, with_body=True
    )


@router.get("/v1/policies/schema", responses=AUTHENTICATED)
async def policy_schema(request: Request, caller: Reader) -> Response:
    """The JSON Schema of the AIPolicy document."""
    return await relay(request, caller, ENGINE, "/v1/policies/schema", caller.agency)


@router.put("/v1/agencies/{agency}/policy", openapi_extra=YAML_BODY, responses=SCOPED)
async def publish_policy(agency: str, request: Request, caller: PolicyAdmin) -> Response:
    """Publish a new immutable version (`?team=` for a team overlay, `?message=`)."""
    agency = resolve_agency(caller, request, agency)
    return await relay(
        request, caller, ENGINE, f"/v1/agencies/{agency}/policy", agency, with_body=True
    )


@router.get("/v1/agencies/{agency}/policy", responses=SCOPED)
async def get_policy(agency: str, request: Request, caller: Reader) -> Response:
    """The latest (or `?version=`) published policy of the agency (or `?team=`)."""
    agency = resolve_agency(caller, request, agency)
    return await relay(request, caller, ENGINE, f"/v1/agencies/{agency}/policy", agency)


PolicyView = Literal["versions", "effective", "diff"]
"""What ``GET …/policy/{view}`` shows (another word is a 422 naming these, never relayed)."""
PolicyAction = Literal["rollback", "simulate"]


@router.get("/v1/agencies/{agency}/policy/{view}", responses=SCOPED)
async def policy_view(agency: str, view: PolicyView, request: Request, caller: Reader) -> Response:
    """`versions`, `effective` (merged, with provenance) or `diff?from=&to=`."""
    agency = resolve_agency(caller, request, agency)
    return await relay(
        request, caller, ENGINE, f"/v1/agencies/{agency}/policy/{segment(view)}", agency
    )


@router.post("/v1/agencies/{agency}/policy/{action}", responses=SCOPED)
async def policy_action(
    agency: str, action: PolicyAction, request: Request, caller: PolicyAdmin
) -> Response:
    """`rollback` `{to_version, reason}` or `simulate` `{policy, content_type, last}`."""
    agency = resolve_agency(caller, request, agency)
    return await relay(
        request,
        caller,
        ENGINE,
        f"/v1/agencies/{agency}/policy/{segment(action)}",
        agency,
        with_body=True,
    )


@router.put("/v1/org/policy", openapi_extra=YAML_BODY, responses=ORG_WIDE)
async def publish_org_policy(request: Request, caller: Admin) -> Response:
    """Publish the org baseline every agency inherits (org-wide admin only)."""
    require_org_wide(caller, request)
    return await relay(request, caller, ENGINE, "/v1/org/policy", "org", with_body=True)


@router.get("/v1/org/policy", responses=AUTHENTICATED)
async def get_org_policy(request: Request, caller: Reader) -> Response:
    return await relay(request, caller, ENGINE, "/v1/org/policy", "org")


@router.get("/v1/org/policy/versions", responses=AUTHENTICATED)
async def org_policy_versions(request: Request, caller: Reader) -> Response:
    return await relay(request, caller, ENGINE, "/v1/org/policy/versions", "org")


@router.post("/v1/org/policy/rollback", responses=ORG_WIDE)
async def rollback_org_policy(request: Request, caller: Admin) -> Response:
    """Roll the org baseline back to an earlier version (org-wide admin only)."""
    require_org_wide(caller, request)
    return await relay(request, caller, ENGINE, "/v1/org/policy/rollback", "org", with_body=True)


@router.get("/v1/agencies/{agency}/wizard", responses=SCOPED)
async def wizard_state(agency: str, request: Request, caller: PolicyAdmin) -> Response:
    """The first-run wizard: six steps whose answers become the agency's policy."""
    agency = resolve_agency(caller, request, agency)
    return await relay(request, caller, ENGINE, f"/v1/agencies/{agency}/wizard", agency)


@router.put("/v1/agencies/{agency}/wizard/{step}", responses=SCOPED)
async def wizard_answer(agency: str, step: str, request: Request, caller: PolicyAdmin) -> Response:
    """Answer one step (profile, models, autonomy, data, budgets, approvals)."""
    agency = resolve_agency(caller, request, agency)
    return await relay(
        request,
        caller,
        ENGINE,
        f"/v1/agencies/{agency}/wizard/{segment(step)}",
        agency,
        with_body=True,
    )


@router.post("/v1/agencies/{agency}/wizard/publish", responses=SCOPED)
async def wizard_publish(agency: str, request: Request, caller: PolicyAdmin) -> Response:
    agency = resolve_agency(caller, request, agency)
    return await relay(request, caller, ENGINE, f"/v1/agencies/{agency}/wizard/publish", agency)
