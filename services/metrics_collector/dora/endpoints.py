"""DORA metrics and per-agency settings (thin HTTP; the agency comes from the gateway)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import TypeAdapter

from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession
from cortex_kit.web import PRINCIPAL_HEADER, CallerAgency
from metrics_collector.commit_hooks import after_commit
from metrics_collector.dora import service
from metrics_collector.dora.errors import InvalidTime, InvalidWindow, UnknownBucket, WindowTooLarge
from metrics_collector.dora.schemas import DoraResponse, DoraSettings, DoraSettingsIn
from metrics_collector.state import State

router = APIRouter(prefix="/v1/metrics", tags=["dora"])
_SCHEMA = TypeAdapter(DoraResponse)


@router.get(
    "/dora",
    response_model=DoraResponse,
    responses=problem_responses(
        AgencyRequired, InvalidTime, UnknownBucket, InvalidWindow, WindowTooLarge
    ),
)
async def get_dora(
    state: State,
    agency: CallerAgency,
    service_name: Annotated[str | None, Query(alias="service", max_length=200)] = None,
    environment: Annotated[
        str | None, Query(max_length=200, description="Default production; * for all.")
    ] = None,
    start: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64)] = None,
    bucket: Annotated[str | None, Query(description="day, week or month")] = None,
) -> Response:
    """The five DORA metrics over ``[from, to)`` (default: the last 30 days, production)."""
    dora = state.dora
    query = service.parse_query(
        service=service_name,
        environment=environment,
        start=start,
        end=end,
        bucket=bucket,
        now=datetime.now(UTC),
        max_days=dora.max_window_days,
    )
    report = await service.dora_report(dora.cache, agency, query)
    # Already plain JSON (docs/metrics.md "Output"): no model validation on the hot path.
    return Response(json.dumps(report, allow_nan=False), media_type="application/json")


@router.get("/dora/schema", responses=problem_responses())
async def dora_schema() -> dict[str, Any]:
    """The JSON Schema of the ``GET /v1/metrics/dora`` answer."""
    return _SCHEMA.json_schema()


@router.get("/settings", responses=problem_responses(AgencyRequired))
async def get_settings(session: DbSession, agency: CallerAgency) -> DoraSettings:
    return await service.get_settings(session, agency)


@router.put("/settings", responses=problem_responses(AgencyRequired))
async def put_settings(
    body: DoraSettingsIn,
    state: State,
    session: DbSession,
    agency: CallerAgency,
    principal: Annotated[str | None, Header(alias=PRINCIPAL_HEADER)] = None,
) -> DoraSettings:
    """Replace the agency's settings; every replica's metrics follow within a second."""
    saved = await service.put_settings(session, agency, body, principal)
    cache = state.dora.cache
    after_commit(session, lambda: cache.committed([agency]))
    return saved
