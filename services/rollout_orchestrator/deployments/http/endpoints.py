"""Deployments over HTTP (internal, behind the gateway, which relays the same paths). The
caller's agency and principal come from the headers the gateway signs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Response

from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession, RuntimeDep
from cortex_kit.web import CallerAgency
from rollout_orchestrator.deployments import creation, repository, service
from rollout_orchestrator.deployments.http import record
from rollout_orchestrator.deployments.http.deps import PlanDocument, Principal
from rollout_orchestrator.deployments.schemas import CommandIn, DeploymentList, DeploymentOut
from rollout_orchestrator.domain.run import RunStatus
from rollout_orchestrator.errors import (
    ActorRequired,
    DeploymentBlocked,
    DeploymentNotFound,
    IdempotencyKeyReused,
    InvalidPlan,
    InvalidTransition,
    NoTargets,
    PlanTooLarge,
    PolicyUnavailable,
    TargetsBusy,
    UnknownTargets,
    UnsupportedPlanType,
)
from rollout_orchestrator.state import State

router = APIRouter(prefix="/v1/deployments", tags=["deployments"])
RunId = Annotated[str, Path(min_length=1, max_length=100)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]


@router.post(
    "",
    status_code=202,
    responses=problem_responses(
        AgencyRequired,
        ActorRequired,
        InvalidPlan,
        UnsupportedPlanType,
        PlanTooLarge,
        NoTargets,
        UnknownTargets,
        TargetsBusy,
        IdempotencyKeyReused,
        DeploymentBlocked,
        PolicyUnavailable,
    ),
)
async def create_deployment(
    document: PlanDocument,
    session: DbSession,
    state: State,
    agency: CallerAgency,
    actor: Principal,
    idempotency_key: IdempotencyKey = None,
) -> DeploymentOut:
    """A new run of a plan (YAML or JSON): judged by the policy, its batches and revert
    snapshot stored, committed before the 202. ``running``, or ``pending_approval`` when the
    policy asks for an approval or the plan asks to override a limit."""
    plan = creation.parse_plan(document)
    run = await creation.create(
        session, state.creation, agency, actor, plan, idempotency_key, state.clock()
    )
    return await record.full(session, run)


@router.get("", responses=problem_responses(AgencyRequired))
async def list_deployments(
    session: DbSession,
    agency: CallerAgency,
    status: Annotated[RunStatus | None, Query()] = None,
    service_name: Annotated[str | None, Query(alias="service", max_length=200)] = None,
    after: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeploymentList:
    """The agency's runs, newest first (summaries: no agent lists, no timeline)."""
    runs = await repository.list_runs(session, agency, status, service_name, after, limit + 1)
    more = len(runs) > limit
    runs = runs[:limit]
    return DeploymentList(
        items=await record.summaries(session, runs),
        next_after=runs[-1].id if more and runs else None,
    )


@router.get("/{run_id}", responses=problem_responses(AgencyRequired, DeploymentNotFound))
async def get_deployment(
    run_id: RunId,
    rt: RuntimeDep,
    state: State,
    agency: CallerAgency,
    version: Annotated[int | None, Query(ge=0)] = None,
    wait: Annotated[float, Query(ge=0, le=30)] = 0,
) -> DeploymentOut:
    """The record. With ``version`` and ``wait=N``: answered when the record's version differs
    from ``version``, or after N seconds."""
    if version is not None and wait > 0:
        await state.watch.wait(rt.db, agency, run_id, version, wait)
    async with rt.db.session() as session:
        run = await service.get(session, agency, run_id)
        return await record.full(session, run)


@router.post(
    "/{run_id}/{command}",
    responses=problem_responses(
        AgencyRequired, ActorRequired, DeploymentNotFound, InvalidTransition
    ),
)
async def command_deployment(
    run_id: RunId,
    command: Literal["pause", "resume", "abort", "rollback"],
    body: CommandIn,
    session: DbSession,
    state: State,
    agency: CallerAgency,
    actor: Principal,
    response: Response,
) -> DeploymentOut:
    """pause | resume | abort | rollback, with the caller recorded as the actor and the
    reason. The same command on a run already there: 200, the same state, nothing recorded."""
    run = await service.command(
        session,
        state.creation.driver,
        agency,
        run_id,
        command,
        actor,
        body.reason,
        state.clock(),
    )
    response.headers["Cache-Control"] = "no-store"
    return await record.full(session, run)
