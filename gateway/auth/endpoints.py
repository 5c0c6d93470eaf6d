from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from cortex_kit.runtime import DbSession
from gateway.auth import service
from gateway.auth.deps import api_routes, key_agency, require
from gateway.auth.schemas import KeyCreate, KeyCreated, KeyInfo, KeyList
from gateway.domain.keys import Principal, Role
from gateway.errors import (
    AGENCY_SCOPED,
    ApprovalRolesNeedApprover,
    KeyNotFound,
    UnknownRouteScope,
    gateway_responses,
)
from gateway.state import gateway_state

router = APIRouter(prefix="/v1/keys", tags=["keys"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


@router.post(
    "",
    status_code=201,
    responses=gateway_responses(ApprovalRolesNeedApprover, UnknownRouteScope, *AGENCY_SCOPED),
)
async def create_key(
    body: KeyCreate, request: Request, session: DbSession, admin: Admin
) -> KeyCreated:
    created = await service.create_key(
        session,
        agency=key_agency(admin, request, body.agency),
        role=body.role,
        name=body.name,
        created_by=admin.key_id,
        approval_roles=body.approval_roles,
        team=body.team,
        routes=body.routes,
        known_routes=api_routes(request.app),
    )
    return KeyCreated.model_validate(created, from_attributes=True)


@router.get("", responses=gateway_responses())
async def list_keys(session: DbSession, admin: Admin) -> KeyList:
    rows = await service.list_keys(session, admin)
    return KeyList(items=[KeyInfo.model_validate(r, from_attributes=True) for r in rows])


@router.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    response_description="Revoked (no body).",
    responses=gateway_responses(KeyNotFound),
)
async def revoke_key(key_id: str, request: Request, session: DbSession, admin: Admin) -> None:
    await service.revoke_key(session, admin, key_id, gateway_state(request).key_cache)
