"""Authorize, usage settlement, decision log reads, simulation (thin HTTP)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cortex_kit.errors import AgencyForbidden, AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER, CallerAgency, caller_agency
from policy_engine.deps import Limits, OwnAgency
from policy_engine.errors import (
    DecisionNotFound,
    PolicyInvalidError,
    PolicyLoosensParent,
    ReservationNotFound,
)
from policy_engine.evaluation import service
from policy_engine.evaluation.decision_log import DecisionLogUnavailable
from policy_engine.evaluation.rendering import (
    REQUEST_SCHEMA,
    parse_json_body,
    render_authorization,
)
from policy_engine.evaluation.schemas import (
    AuthorizeRequest,
    AuthorizeResponse,
    DecisionList,
    DecisionOut,
    SimulateRequest,
    SimulationOut,
    UsageReport,
    UsageSettled,
)
from policy_engine.evaluation.service import Authorizer
from policy_engine.evaluation.simulate import simulate
from policy_engine.policies.parsing import LIMIT_ERRORS
from policy_engine.state import state_of

router = APIRouter(tags=["authorize"])
JSON = "application/json"


def authorizer(request: Request) -> Authorizer:
    return state_of(request).authorizer


@router.post(
    "/v1/authorize",
    response_model=AuthorizeResponse,
    responses=problem_responses(AgencyRequired, DecisionLogUnavailable),
    openapi_extra={
        "requestBody": {"required": True, "content": {JSON: {"schema": REQUEST_SCHEMA}}},
        "parameters": [{"name": AGENCY_HEADER, "in": "header", "schema": {"type": "string"}}],
    },
)
async def authorize(request: Request) -> Response:
    """allow / deny / require_approval, with a risk score and every reason with its fix."""
    # The hot path parses and renders its own JSON (validated by the same pydantic models,
    # errors in the same problem+json shape): FastAPI's generic body handling and response
    # validation cost several times the decision itself.
    agency = caller_agency(request)
    body = parse_json_body(
        AuthorizeRequest, await request.body(), request.headers.get("content-type")
    )
    answer = await service.authorize(
        authorizer(request), agency, body, principal=request.headers.get(PRINCIPAL_HEADER)
    )
    return Response(render_authorization(answer), media_type=JSON)


@router.post(
    "/v1/decisions/{decision_id}/usage",
    responses=problem_responses(AgencyRequired, ReservationNotFound),
)
async def report_usage(
    decision_id: str,
    body: UsageReport,
    request: Request,
    session: DbSession,
    agency: CallerAgency,
    team: Annotated[str | None, Query()] = None,
) -> UsageSettled:
    """Settle the actual cost and tokens of an allowed action against its reservation."""
    settled = await service.settle_usage(
        authorizer(request),
        session,
        agency=agency,
        team=team,
        decision_id=decision_id,
        usd=body.cost_usd,
        tokens=body.tokens,
    )
    return UsageSettled.of(settled)


@router.get("/v1/decisions", responses=problem_responses(AgencyRequired))
async def list_decisions(
    session: DbSession,
    agency: CallerAgency,
    agent_id: str | None = None,
    decision: Literal["allow", "deny", "require_approval"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DecisionList:
    rows = await service.recent_decisions(
        session, agency, limit=limit, agent_id=agent_id, decision=decision
    )
    return DecisionList(items=[DecisionOut.of(row) for row in rows])


@router.get(
    "/v1/decisions/{decision_id}", responses=problem_responses(AgencyRequired, DecisionNotFound)
)
async def get_decision(decision_id: str, session: DbSession, agency: CallerAgency) -> DecisionOut:
    return DecisionOut.of(await service.logged_decision(session, agency, decision_id))


@router.post(
    "/v1/agencies/{agency}/policy/simulate",
    responses=problem_responses(
        AgencyRequired, AgencyForbidden, PolicyInvalidError, PolicyLoosensParent, *LIMIT_ERRORS
    ),
)
async def simulate_policy(
    agency: OwnAgency, body: SimulateRequest, session: DbSession, limits: Limits
) -> SimulationOut:
    """Which of the last N decisions a candidate policy would change, and why."""
    result = await simulate(session, agency, body.policy, body.content_type, body.last, limits)
    return SimulationOut.of(result)
