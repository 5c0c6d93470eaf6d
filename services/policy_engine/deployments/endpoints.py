"""Deployment plan evaluation (thin HTTP): the gateway's preflight and the rollout orchestrator."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.web import CallerAgency
from policy_engine.deployments import service
from policy_engine.deployments.schemas import DeploymentEvaluation, DeploymentPlanRequest
from policy_engine.state import state_of

router = APIRouter(tags=["deployments"])


@router.post(
    "/v1/deployments/evaluate",
    response_model=DeploymentEvaluation,
    responses=problem_responses(AgencyRequired),
)
async def evaluate_plan(
    body: DeploymentPlanRequest, request: Request, agency: CallerAgency
) -> DeploymentEvaluation:
    """pass / fail / needs_approval for a rollout plan, with its risk, every reason with its
    fix, and the effective deployment limits. Records nothing."""
    cache = state_of(request).authorizer.cache
    return DeploymentEvaluation.of(await service.evaluate(cache, agency, body))
