"""The first-run wizard (six steps → a published agency policy); the console drives it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cortex_kit.errors import problem_responses
from cortex_kit.runtime import DbSession, RuntimeDep
from policy_engine.deps import Author, JsonBody, Limits, OwnAgency
from policy_engine.errors import AGENCY, PUBLISHED, WizardIncomplete, WizardStepNotFound
from policy_engine.policies.parsing import LIMIT_ERRORS, BodyInvalid
from policy_engine.policies.schemas import PolicyVersionOut
from policy_engine.wizard import service
from policy_engine.wizard.schemas import WizardStateOut
from policy_engine.wizard.service import WizardStepInvalid, WizardStepLoosensParent

router = APIRouter(prefix="/v1/agencies/{agency}/wizard", tags=["wizard"])
STEP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "The step's answers; GET the wizard for each step's JSON Schema.",
    }
}


@router.get("", responses=problem_responses(*AGENCY))
async def wizard_state(agency: OwnAgency, session: DbSession) -> WizardStateOut:
    """Every step with its schema, answers and completion, the next step, a policy preview."""
    return WizardStateOut.of(await service.state(session, agency))


@router.put(
    "/{step}",
    openapi_extra=STEP_BODY,
    responses=problem_responses(
        *AGENCY,
        WizardStepNotFound,
        WizardStepInvalid,
        WizardStepLoosensParent,
        BodyInvalid,
        *LIMIT_ERRORS,
    ),
)
async def answer_step(
    agency: OwnAgency, step: str, body: JsonBody, session: DbSession, limits: Limits
) -> WizardStateOut:
    """Answer one step: checked on its own, as part of the resulting policy and against the
    parent policy (422 with each error at the step's own field)."""
    return WizardStateOut.of(await service.answer(session, agency, step, body, limits=limits))


@router.post(
    "/publish",
    response_model=PolicyVersionOut,
    status_code=201,
    responses=problem_responses(
        *AGENCY,
        WizardIncomplete,
        WizardStepInvalid,
        WizardStepLoosensParent,
        *LIMIT_ERRORS,
        *PUBLISHED,
    ),
)
async def publish(
    agency: OwnAgency, session: DbSession, rt: RuntimeDep, author: Author, limits: Limits
) -> Response:
    """Publish the policy the six steps describe: 201 with the new version, 200 with the
    current one when the answers are unchanged, 409 while a step is missing."""
    row, created = await service.publish(
        session, rt.tables.outbox, agency, author=author, limits=limits
    )
    return Response(
        PolicyVersionOut.of(row, created=created).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )
