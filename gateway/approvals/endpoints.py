"""Approvals at the gateway: role checks, agency scoping, the caller's identity, relay to the
approval workflow.

Request and response bodies are the approval workflow's (docs/approvals.md "The service API",
its OpenAPI). Every call carries, signed, the key's id as the principal, its role and approval
roles as ``X-Cortex-Roles`` and its team as ``X-Cortex-Team``: the service applies quorum, roles
and separation of duties with them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.approvals.deps import (
    Admin,
    Agency,
    Decider,
    ListFilters,
    Reader,
    Requester,
    Wait,
)
from gateway.auth.deps import resolve_agency
from gateway.domain.approvals import long_poll_s, may_decide
from gateway.errors import AGENCY_SCOPED, gateway_responses
from gateway.relay import ScopedRelay, segment

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])
# The workflow's own problems (approval_not_found, self_approval_forbidden, already_decided,
# ...) are relayed as they are; its OpenAPI lists them. These are the gateway's.
SCOPED = gateway_responses(*AGENCY_SCOPED)
WORKFLOW = "approval_workflow"
NOTIFICATIONS = "/v1/approvals/notifications"


_relay = ScopedRelay(WORKFLOW, with_identity=True)


@router.get("", responses=SCOPED)
async def list_approvals(
    request: Request,
    caller: Reader,
    query: ListFilters,
    agency: Agency = None,
) -> Response:
    """Newest first, `limit` per page, `next_cursor` for the next (older) one."""
    if query.mine == "decidable" and not may_decide(caller):
        resolve_agency(caller, request, agency)
        return JSONResponse({"items": [], "next_cursor": None})  # a key that may not decide
    return await _relay(request, caller, "/v1/approvals", agency)


@router.post("", status_code=201, responses=SCOPED)
async def create_approval(request: Request, caller: Requester, agency: Agency = None) -> Response:
    """Ask for an approval (`Idempotency-Key` or the body's `id` makes a retry safe)."""
    return await _relay(
        request, caller, "/v1/approvals", agency, with_body=True, headers=("idempotency-key",)
    )


@router.post("/decisions", responses=SCOPED)
async def decide_many(request: Request, caller: Decider, agency: Agency = None) -> Response:
    """Up to 100 decisions, each answered as the single route would answer it."""
    return await _relay(request, caller, "/v1/approvals/decisions", agency, with_body=True)


@router.get("/notifications", responses=SCOPED)
async def get_notifications(request: Request, caller: Reader, agency: Agency = None) -> Response:
    """The agency's outgoing approval notifications (webhook settings)."""
    return await _relay(request, caller, NOTIFICATIONS, agency)


@router.put("/notifications", responses=SCOPED)
async def put_notifications(request: Request, caller: Admin, agency: Agency = None) -> Response:
    """Replace the agency's approval notification settings (admin)."""
    return await _relay(request, caller, NOTIFICATIONS, agency, with_body=True)


@router.delete(
    "/notifications",
    status_code=204,
    response_class=Response,
    response_description="Removed (no body).",
    responses=SCOPED,
)
async def delete_notifications(request: Request, caller: Admin, agency: Agency = None) -> Response:
    """Remove the agency's approval notification settings (admin)."""
    return await _relay(request, caller, NOTIFICATIONS, agency)


@router.get("/{approval_id}", responses=SCOPED)
async def get_approval(
    approval_id: str, request: Request, caller: Reader, agency: Agency = None, wait: Wait = 0
) -> Response:
    """The request with its trail; `?wait=N` answers once it is terminal or after N s (≤ 30)."""
    held = long_poll_s(wait)
    return await _relay(
        request,
        caller,
        f"/v1/approvals/{segment(approval_id)}",
        agency,
        params={"wait": f"{held:g}"} if held else {},
        extra_timeout_s=held,
    )


@router.post("/{approval_id}/decisions", responses=SCOPED)
async def decide(
    approval_id: str, request: Request, caller: Decider, agency: Agency = None
) -> Response:
    """`{decision: approve|reject, comment}`, once per approver (a repeat answers the same)."""
    return await _relay(
        request,
        caller,
        f"/v1/approvals/{segment(approval_id)}/decisions",
        agency,
        with_body=True,
    )
