"""``POST /v1/deployments/preview``: what ``POST /v1/deployments`` would answer now, without
creating anything (the gateway's preflight)."""

from __future__ import annotations

from fastapi import APIRouter

from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession
from cortex_kit.web import CallerAgency
from rollout_orchestrator.deployments import creation, preview
from rollout_orchestrator.deployments.http.deps import PlanDocument, Principal
from rollout_orchestrator.errors import (
    ActorRequired,
    InvalidPlan,
    PlanTooLarge,
    UnsupportedPlanType,
)
from rollout_orchestrator.state import State

router = APIRouter(prefix="/v1/deployments", tags=["deployments"])


@router.post(
    "/preview",
    responses=problem_responses(
        AgencyRequired, ActorRequired, InvalidPlan, UnsupportedPlanType, PlanTooLarge
    ),
)
async def preview_deployment(
    document: PlanDocument,
    session: DbSession,
    state: State,
    agency: CallerAgency,
    actor: Principal,
) -> preview.DeploymentPreview:
    """The same body and checks as ``POST /v1/deployments``, stored nowhere: the batches, the
    active runs holding the targets, the policy's evaluation, and the status creation would
    give (``running``, ``pending_approval``, or ``refused`` with the problem it would answer).
    A body that is no plan is refused as creation refuses it (422)."""
    plan = creation.parse_plan(document)
    return await preview.preview(session, state.creation, agency, actor, plan, state.clock())
