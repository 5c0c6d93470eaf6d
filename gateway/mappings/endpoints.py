"""Delivery mappings (docs/metrics.md "Mappings"): how webhook deliveries of an agency name
services, count branches and spell environments. Served by the gateway, which maps webhook
deliveries before any event exists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from cortex_kit.runtime import DbSession
from gateway.auth.deps import resolve_agency
from gateway.errors import AGENCY_SCOPED, gateway_responses
from gateway.mappings import service
from gateway.mappings.deps import Agency, Document, MappingAdmin, Reader
from gateway.mappings.errors import InvalidMapping, MappingVersionNotFound
from gateway.mappings.schemas import Mapping, MappingVersions
from gateway.state import gateway_state

router = APIRouter(prefix="/v1/metrics/mappings", tags=["metrics"])
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/MappingDocument"}}
        },
    }
}


@router.get("", responses=gateway_responses(MappingVersionNotFound, *AGENCY_SCOPED))
async def get_mapping(
    request: Request,
    session: DbSession,
    caller: Reader,
    agency: Agency = None,
    version: Annotated[int | None, Query(ge=1, description="An older version.")] = None,
) -> Mapping:
    """The agency's mapping in force (version 0 and ``is_default`` until one is set)."""
    return await service.get_mapping(session, resolve_agency(caller, request, agency), version)


@router.put("", responses=gateway_responses(InvalidMapping, *AGENCY_SCOPED), openapi_extra=_BODY)
async def put_mapping(
    request: Request,
    session: DbSession,
    caller: MappingAdmin,
    document: Document,
    agency: Agency = None,
) -> Mapping:
    """Replace the mapping (a new version; admin or policy-admin). It applies to deliveries
    mapped from then on; stored facts keep the service and environment they were given."""
    return await service.put_mapping(
        session,
        gateway_state(request).mappings,
        resolve_agency(caller, request, agency),
        document,
        caller.key_id,
    )


@router.get("/versions", responses=gateway_responses(*AGENCY_SCOPED))
async def mapping_versions(
    request: Request, session: DbSession, caller: Reader, agency: Agency = None
) -> MappingVersions:
    """Who set each version and when (the latest 100, newest first)."""
    return await service.versions(session, resolve_agency(caller, request, agency))
