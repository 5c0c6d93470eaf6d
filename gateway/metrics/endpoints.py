"""DORA metrics at the gateway: role checks, agency scoping, relay to the metrics-collector.

Query parameters and answers are the metrics-collector's (docs/metrics.md "Query API").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from gateway.auth.deps import require, resolve_agency
from gateway.domain.keys import READ_ROLES, Principal, Role
from gateway.errors import AGENCY_SCOPED, gateway_responses
from gateway.relay import relay

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])
SCOPED = gateway_responses(*AGENCY_SCOPED)
COLLECTOR = "metrics_collector"
Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
SettingsAdmin = Annotated[Principal, Depends(require(Role.POLICY_ADMIN))]
Agency = Annotated[str | None, Query(description="Required only for org-wide keys.")]


@router.get("/dora", responses=SCOPED)
async def get_dora(
    request: Request,
    caller: Reader,
    agency: Agency = None,
    service: str | None = None,
    environment: Annotated[str | None, Query(description="Default production; * for all.")] = None,
    start: Annotated[str | None, Query(alias="from", description="Date or RFC 3339 time.")] = None,
    end: Annotated[str | None, Query(alias="to", description="Default now.")] = None,
    bucket: Annotated[str | None, Query(description="day, week or month.")] = None,
) -> Response:
    """The five DORA metrics of the agency over ``[from, to)`` (default: last 30 days)."""
    return await relay(
        request, caller, COLLECTOR, "/v1/metrics/dora", resolve_agency(caller, request, agency)
    )


@router.get("/dora/schema", responses=gateway_responses())
async def get_dora_schema(request: Request, caller: Reader) -> Response:
    """The JSON Schema of the ``GET /v1/metrics/dora`` answer."""
    return await relay(request, caller, COLLECTOR, "/v1/metrics/dora/schema", caller.agency)


@router.get("/settings", responses=SCOPED)
async def get_settings(request: Request, caller: Reader, agency: Agency = None) -> Response:
    """The agency's DORA settings (incident linking)."""
    return await relay(
        request, caller, COLLECTOR, "/v1/metrics/settings", resolve_agency(caller, request, agency)
    )


@router.put("/settings", responses=SCOPED)
async def put_settings(request: Request, caller: SettingsAdmin, agency: Agency = None) -> Response:
    """Replace the agency's DORA settings (admin or policy-admin)."""
    return await relay(
        request,
        caller,
        COLLECTOR,
        "/v1/metrics/settings",
        resolve_agency(caller, request, agency),
        with_body=True,
    )
