"""``POST /v1/preflight``: what a deployment plan would meet — the same judgement
``POST /v1/deployments`` enforces, with every finding's fix (docs/api.md "Preflight")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gateway.auth.deps import require, resolve_agency
from gateway.domain.keys import Principal, Role
from gateway.errors import AGENCY_SCOPED, gateway_responses
from gateway.preflight.fanout import Fanout, submitted
from gateway.preflight.findings import judge
from gateway.preflight.schemas import PreflightOut
from gateway.state import gateway_state

router = APIRouter(prefix="/v1/preflight", tags=["preflight"])
Deployer = Annotated[Principal, Depends(require(Role.DEPLOYER))]
Agency = Annotated[str | None, Query(description="Required only for org-wide keys.")]


@router.post("", responses=gateway_responses(*AGENCY_SCOPED))
async def preflight(request: Request, caller: Deployer, agency: Agency = None) -> PreflightOut:
    """A plan (YAML or JSON, the body of `POST /v1/deployments`) judged as creation would judge
    it now — batches, busy targets, the policy's evaluation — with the approvals of the same
    plan and the service's recent change failure rate, asked in parallel under a deadline.
    Always 200 for a plan: the verdict and findings say what creation would answer."""
    scoped = resolve_agency(caller, request, agency)
    state = gateway_state(request)
    plan = submitted(await request.body(), request.headers.get("content-type", ""))
    fanout = Fanout(state.upstreams, state.preflight_deadline_s)
    preview, approvals, metrics = await fanout.ask(
        plan, caller, scoped, request.headers.get("x-request-id")
    )
    return judge(preview, approvals, metrics, plan.service, fanout.deadline_s)
