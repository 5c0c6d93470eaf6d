"""The trail at the gateway: agency-scoped reads every role may make (the services scope each
read to the caller's agency, so a foreign agency's id is unknown, as a made-up one)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from gateway.auth.deps import require, resolve_agency
from gateway.domain.keys import READ_ROLES, Principal
from gateway.errors import AGENCY_SCOPED, gateway_responses
from gateway.state import gateway_state
from gateway.trail import postmortem, service
from gateway.trail.errors import (
    DeploymentNotFailed,
    TrailDeploymentUnavailable,
    TrailNotFound,
    TrailUnavailable,
    TrailWithoutDeployment,
)
from gateway.trail.reads import Reader
from gateway.trail.schemas import TrailOut

router = APIRouter(prefix="/v1/trail", tags=["trail"])
Reader_ = Annotated[Principal, Depends(require(*READ_ROLES))]
Agency = Annotated[str | None, Query(description="Required only for org-wide keys.")]
TrailId = Annotated[str, Path(min_length=1, max_length=200)]
FOUND = gateway_responses(*AGENCY_SCOPED, TrailNotFound, TrailUnavailable)
MARKDOWN: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}
}


def _reader(request: Request, caller: Principal, agency: str | None) -> Reader:
    return Reader(
        gateway_state(request).upstreams,
        resolve_agency(caller, request, agency),
        caller.key_id,
        request.headers.get("x-request-id"),
    )


@router.get("/{trail_id}", responses=FOUND)
async def get_trail(
    trail_id: TrailId, request: Request, caller: Reader_, agency: Agency = None
) -> TrailOut:
    """The linked record of a change from any of its ids (a deployment run, its approval, its
    decision, an incident naming it): decision, approval, run, DORA facts, each as its own
    route answers it."""
    return await service.trail(_reader(request, caller, agency), trail_id)


@router.get(
    "/{trail_id}/postmortem",
    response_class=Response,
    responses={
        **MARKDOWN,
        **gateway_responses(
            *AGENCY_SCOPED,
            TrailNotFound,
            TrailUnavailable,
            DeploymentNotFailed,
            TrailWithoutDeployment,
            TrailDeploymentUnavailable,
        ),
    },
)
async def get_postmortem(
    trail_id: TrailId, request: Request, caller: Reader_, agency: Agency = None
) -> Response:
    """A Markdown postmortem draft of a failed or rolled-back deployment."""
    found = await service.trail(_reader(request, caller, agency), trail_id)
    return Response(postmortem.draft(found), media_type="text/markdown; charset=utf-8")
