"""The first-run wizard (six steps → a published agency policy); the console drives it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header

from cortex_kit.runtime import DbSession, RuntimeDep
from cortex_kit.web import PRINCIPAL_HEADER, CallerAgency
from policy_engine.policies.endpoints import agency_target
from policy_engine.policies.schemas import PolicyVersionOut
from policy_engine.wizard import service

router = APIRouter(prefix="/v1/agencies/{agency}/wizard", tags=["wizard"])


@router.get("")
async def wizard_state(agency: str, session: DbSession, caller: CallerAgency) -> dict[str, Any]:
    """Every step with its schema, answers and completion, the next step, a policy preview."""
    agency_target(agency, caller, None)
    return await service.state(session, agency)


@router.put("/{step}")
async def answer_step(
    agency: str,
    step: str,
    session: DbSession,
    caller: CallerAgency,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Answer one step; it is validated on its own and as part of the resulting policy."""
    agency_target(agency, caller, None)
    return await service.answer(session, agency, step, body)


@router.post("/publish", status_code=201)
async def publish(
    agency: str,
    session: DbSession,
    rt: RuntimeDep,
    caller: CallerAgency,
    author: Annotated[str, Header(alias=PRINCIPAL_HEADER)],
) -> PolicyVersionOut:
    """Publish the policy the six steps describe (409 while a step is missing)."""
    agency_target(agency, caller, None)
    row = await service.publish(session, rt.tables.outbox, agency, author=author)
    return PolicyVersionOut.model_validate({**row, "created": True})
