"""``POST /v1/approvals/{id}/uses``: the policy engine uses a granted action approval for one
re-authorized decision (internal: signed, principal ``service:policy-engine``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from approval_workflow.errors import ApprovalExpired, ApprovalNotFound, ApprovalSuperseded
from approval_workflow.state import State
from approval_workflow.uses import service
from approval_workflow.uses.errors import (
    ApprovalAgentMismatch,
    ApprovalInputMismatch,
    ApprovalNotGranted,
    ApprovalUsed,
    UseForbidden,
)
from approval_workflow.uses.schemas import UseIn, UseOut
from approval_workflow.uses.service import UseAsked
from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession
from cortex_kit.web import PRINCIPAL_HEADER, CallerAgency

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])
ENGINE_PRINCIPAL = "service:policy-engine"
"""The principal the policy engine signs its calls with; no API key has this id."""


@router.post(
    "/{approval_id}/uses",
    responses=problem_responses(
        AgencyRequired,
        UseForbidden,
        ApprovalNotFound,
        ApprovalAgentMismatch,
        ApprovalInputMismatch,
        ApprovalNotGranted,
        ApprovalSuperseded,
        ApprovalExpired,
        ApprovalUsed,
    ),
)
async def use_approval(
    approval_id: str,
    body: UseIn,
    session: DbSession,
    state: State,
    agency: CallerAgency,
    principal: Annotated[str | None, Header(alias=PRINCIPAL_HEADER)] = None,
) -> UseOut:
    """Bind a granted approval to one decision: same agency, agent and input hash, within its
    window, within its allowance; committed before the answer."""
    if principal != ENGINE_PRINCIPAL:
        raise UseForbidden(
            "Only the policy engine uses approvals (when it re-authorizes an action).",
            remediation="Authorize the action with `approval_id` (POST /v1/authorize).",
        )
    asked = UseAsked(approval_id, body.input_hash, body.agent_id, body.decision_id)
    return UseOut.of(await service.use(session, agency, asked, state.clock()))
