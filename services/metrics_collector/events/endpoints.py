from typing import Annotated

from fastapi import APIRouter, Query

from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession
from cortex_kit.web import CallerAgency
from metrics_collector.events import finishes, service
from metrics_collector.events.errors import EventNotFound
from metrics_collector.events.schemas import (
    DeploymentFinish,
    DeploymentFinishes,
    DeploymentFinishesQuery,
    EventKind,
    StoredEvent,
    StoredEventList,
)

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("", responses=problem_responses(AgencyRequired))
async def list_events(
    session: DbSession,
    agency: CallerAgency,
    kind: EventKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> StoredEventList:
    rows = await service.list_events(session, agency, kind, limit)
    return StoredEventList(
        items=[StoredEvent.model_validate(row, from_attributes=True) for row in rows]
    )


@router.get("/{kind}/{event_id}", responses=problem_responses(AgencyRequired, EventNotFound))
async def get_event(
    session: DbSession, agency: CallerAgency, kind: EventKind, event_id: str
) -> StoredEvent:
    row = await service.get_event(session, agency, kind, event_id)
    return StoredEvent.model_validate(row, from_attributes=True)


@router.post("/deployment-finishes", responses=problem_responses(AgencyRequired))
async def deployment_finishes(
    query: DeploymentFinishesQuery, session: DbSession, agency: CallerAgency
) -> DeploymentFinishes:
    """Internal (the gateway's check of an incident's ``caused_by_deployment``)."""
    found = await finishes.deployment_finishes(session, agency, query.deployment_ids)
    return DeploymentFinishes(
        deployments=[DeploymentFinish(deployment_id=k, finished_at=v) for k, v in found.items()]
    )
