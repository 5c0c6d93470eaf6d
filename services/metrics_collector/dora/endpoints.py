"""DORA metrics and per-agency settings (thin HTTP; the agency comes from the gateway)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response

from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession
from cortex_kit.web import CallerAgency
from metrics_collector.dora import service
from metrics_collector.dora.deps import Changer, DoraQueryParams
from metrics_collector.dora.errors import InvalidTime, InvalidWindow, UnknownBucket, WindowTooLarge
from metrics_collector.dora.schemas import (
    DoraResponse,
    DoraSettings,
    DoraSettingsIn,
    JsonSchemaDocument,
)
from metrics_collector.state import State

router = APIRouter(prefix="/v1/metrics", tags=["dora"])


@router.get(
    "/dora",
    response_model=DoraResponse,
    responses=problem_responses(
        AgencyRequired, InvalidTime, UnknownBucket, InvalidWindow, WindowTooLarge
    ),
)
async def get_dora(state: State, agency: CallerAgency, query: DoraQueryParams) -> Response:
    """The five DORA metrics over ``[from, to)`` (default: the last 30 days, production)."""
    report = await service.dora_report(state.dora.cache, agency, query)
    # Already plain JSON (docs/metrics.md "Output"): no model validation on the hot path.
    return Response(json.dumps(report, allow_nan=False), media_type="application/json")


@router.get("/dora/schema", responses=problem_responses())
async def dora_schema() -> JsonSchemaDocument:
    """The JSON Schema of the ``GET /v1/metrics/dora`` answer."""
    return service.report_schema()


@router.get("/settings", responses=problem_responses(AgencyRequired))
async def get_settings(session: DbSession, agency: CallerAgency) -> DoraSettings:
    return await service.get_settings(session, agency)


@router.put("/settings", responses=problem_responses(AgencyRequired))
async def put_settings(
    body: DoraSettingsIn,
    state: State,
    session: DbSession,
    agency: CallerAgency,
    principal: Changer = None,
) -> DoraSettings:
    """Replace the agency's settings; every replica's metrics follow within a second."""
    return await service.put_settings(session, state.dora.cache, agency, body, principal)
