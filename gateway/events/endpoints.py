from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from cortex_kit.runtime import DbSession, get_runtime
from gateway.auth.deps import require, resolve_agency
from gateway.domain.keys import READ_ROLES, Principal, Role
from gateway.errors import (
    AGENCY_SCOPED,
    BatchTooLarge,
    IncidentBeforeDeployment,
    InvalidEvent,
    gateway_responses,
)
from gateway.events import service
from gateway.events.schemas import EventBatch, EventsAccepted
from gateway.relay import relay, segment
from gateway.state import gateway_state

router = APIRouter(prefix="/v1/events", tags=["events"])
SCOPED = gateway_responses(*AGENCY_SCOPED)
Sender = Annotated[Principal, Depends(require(Role.DEPLOYER))]
Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
Kind = Literal["change", "deployment", "incident"]
COLLECTOR = "metrics_collector"


@router.post(
    "",
    status_code=202,
    responses=gateway_responses(
        BatchTooLarge, InvalidEvent, IncidentBeforeDeployment, *AGENCY_SCOPED
    ),
)
async def send_events(
    batch: EventBatch, request: Request, session: DbSession, caller: Sender
) -> EventsAccepted:
    """Accept delivery events durably; they reach the metrics within a second."""
    state = gateway_state(request)
    return await service.send_events(
        session,
        get_runtime(request).tables.outbox,
        state.upstreams,
        agency=resolve_agency(caller, request, batch.agency),
        principal=caller.key_id,
        events=batch.events,
        max_events=state.max_events,
        request_id=request.headers.get("x-request-id"),
    )


@router.get("", responses=SCOPED)
async def list_events(
    request: Request,
    caller: Reader,
    agency: str | None = None,
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The agency's latest events (``kind``, ``limit`` are the metrics-collector's)."""
    return await relay(
        request, caller, COLLECTOR, "/v1/events", resolve_agency(caller, request, agency)
    )


@router.get("/{kind}/{event_id}", responses=SCOPED)
async def get_event(
    kind: Kind, event_id: str, request: Request, caller: Reader, agency: str | None = None
) -> Response:
    """Every version of one event, as stored."""
    return await relay(
        request,
        caller,
        COLLECTOR,
        f"/v1/events/{kind}/{segment(event_id)}",
        resolve_agency(caller, request, agency),
    )
