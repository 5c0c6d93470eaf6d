from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from cortex_kit.runtime import DbSession
from gateway.auth import service
from gateway.auth.deps import require, resolve_agency
from gateway.auth.schemas import KeyCreate, KeyCreated, KeyInfo, KeyList
from gateway.domain.keys import ALL_AGENCIES, Principal, Role
from gateway.errors import AGENCY_SCOPED, KeyNotFound, gateway_responses
from gateway.state import gateway_state

router = APIRouter(prefix="/v1/keys", tags=["keys"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


@router.post("", status_code=201, responses=gateway_responses(*AGENCY_SCOPED))
async def create_key(
    body: KeyCreate, request: Request, session: DbSession, admin: Admin
) -> KeyCreated:
    agency = body.agency if body.agency == ALL_AGENCIES and admin.all_agencies else None
    agency = agency or resolve_agency(admin, request, body.agency)
    created = await service.create_key(
        session, agency=agency, role=body.role, name=body.name, created_by=admin.key_id
    )
    return KeyCreated.model_validate(created)


@router.get("", responses=gateway_responses())
async def list_keys(session: DbSession, admin: Admin) -> KeyList:
    rows = await service.list_keys(session, admin)
    return KeyList(items=[KeyInfo.model_validate(r) for r in rows])


@router.delete("/{key_id}", status_code=204, responses=gateway_responses(KeyNotFound))
async def revoke_key(key_id: str, request: Request, session: DbSession, admin: Admin) -> Response:
    await service.revoke_key(session, admin, key_id, gateway_state(request).key_cache)
    return Response(status_code=204)
