"""Policy documents: validate, publish, read, history, diff, rollback, effective (thin HTTP)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from cortex_kit.errors import problem_responses
from cortex_kit.runtime import DbSession, RuntimeDep
from policy_engine.deps import TEXT, Author, CallerTarget, Limits, OwnAgency, PolicyBody, TeamQuery
from policy_engine.domain.document.schema import policy_json_schema
from policy_engine.errors import AGENCY, PUBLISHED, PolicyInvalidError, PolicyNotFound
from policy_engine.policies import service
from policy_engine.policies.parsing import LIMIT_ERRORS
from policy_engine.policies.repository import VersionInfo
from policy_engine.policies.schemas import (
    EffectivePolicyOut,
    PolicyDiffOut,
    PolicyHistory,
    PolicySchema,
    PolicyVersionInfo,
    PolicyVersionOut,
    RollbackRequest,
    ValidationResult,
)
from policy_engine.policies.service import Target

router = APIRouter(tags=["policies"])
Message = Annotated[str, Query(max_length=2000)]
Version = Annotated[int | None, Query(ge=1)]
HistoryLimit = Annotated[int, Query(ge=1, le=500)]
POLICY_TEXT: dict[str, Any] = {"requestBody": {"content": {"application/yaml": {}}}}


@router.get("/v1/policies/schema", responses=problem_responses())
async def schema() -> PolicySchema:
    """JSON Schema of the AIPolicy document."""
    return PolicySchema(policy_json_schema())


@router.post("/v1/policies/validate", openapi_extra=POLICY_TEXT, responses=problem_responses(*TEXT))
async def validate(body: PolicyBody, limits: Limits) -> ValidationResult:
    """Validate a policy without publishing it: every problem with line, column and fix."""
    try:
        await service.validate_text(body.text, body.content_type, limits)
    except PolicyInvalidError as exc:
        return ValidationResult(valid=False, issues=exc.extra["issues"])
    return ValidationResult(valid=True, issues=[])


async def _publish(
    session: DbSession,
    rt: RuntimeDep,
    target: Target,
    body: PolicyBody,
    limits: Limits,
    author: str,
    message: str,
) -> Response:
    row, created = await service.publish(
        session,
        rt.tables.outbox,
        target,
        body.text,
        body.content_type,
        author=author,
        message=message,
        limits=limits,
    )
    return Response(
        PolicyVersionOut.of(row, created=created).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.put(
    "/v1/agencies/{agency}/policy",
    response_model=PolicyVersionOut,
    openapi_extra=POLICY_TEXT,
    responses=problem_responses(*AGENCY, *TEXT, *PUBLISHED),
)
async def publish_agency_policy(
    target: CallerTarget,
    body: PolicyBody,
    limits: Limits,
    session: DbSession,
    rt: RuntimeDep,
    author: Author,
    message: Message = "",
) -> Response:
    """Publish a new immutable version (201), or 200 when the content is unchanged."""
    return await _publish(session, rt, target, body, limits, author, message)


@router.put(
    "/v1/org/policy",
    response_model=PolicyVersionOut,
    openapi_extra=POLICY_TEXT,
    responses=problem_responses(*TEXT, *PUBLISHED),
)
async def publish_org_policy(
    body: PolicyBody,
    limits: Limits,
    session: DbSession,
    rt: RuntimeDep,
    author: Author,
    message: Message = "",
) -> Response:
    return await _publish(session, rt, Target("org"), body, limits, author, message)


@router.get("/v1/agencies/{agency}/policy", responses=problem_responses(*AGENCY, PolicyNotFound))
async def get_policy(
    target: CallerTarget, session: DbSession, version: Version = None
) -> PolicyVersionOut:
    return PolicyVersionOut.of(await service.get_version(session, target, version))


@router.get("/v1/org/policy", responses=problem_responses(PolicyNotFound))
async def get_org_policy(session: DbSession, version: Version = None) -> PolicyVersionOut:
    return PolicyVersionOut.of(await service.get_version(session, Target("org"), version))


def _history(target: Target, rows: list[VersionInfo]) -> PolicyHistory:
    return PolicyHistory(
        scope=target.scope, items=[PolicyVersionInfo.model_validate(r) for r in rows]
    )


@router.get("/v1/agencies/{agency}/policy/versions", responses=problem_responses(*AGENCY))
async def policy_versions(
    target: CallerTarget, session: DbSession, limit: HistoryLimit = 50
) -> PolicyHistory:
    return _history(target, await service.history(session, target, limit))


@router.get("/v1/org/policy/versions", responses=problem_responses())
async def org_policy_versions(session: DbSession, limit: HistoryLimit = 50) -> PolicyHistory:
    target = Target("org")
    return _history(target, await service.history(session, target, limit))


@router.get(
    "/v1/agencies/{agency}/policy/diff", responses=problem_responses(*AGENCY, PolicyNotFound)
)
async def policy_diff(
    target: CallerTarget,
    session: DbSession,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int | None, Query(alias="to", ge=1)] = None,
) -> PolicyDiffOut:
    """Changes from one version to another (default: to the latest)."""
    return PolicyDiffOut.of(await service.diff(session, target, from_version, to_version))


@router.post(
    "/v1/agencies/{agency}/policy/rollback",
    status_code=201,
    responses=problem_responses(*AGENCY, PolicyNotFound, *LIMIT_ERRORS, *PUBLISHED),
)
async def rollback_policy(
    target: CallerTarget,
    body: RollbackRequest,
    session: DbSession,
    rt: RuntimeDep,
    author: Author,
    limits: Limits,
) -> PolicyVersionOut:
    """Publish an earlier version's content as a new version."""
    row = await service.rollback(
        session,
        rt.tables.outbox,
        target,
        body.to_version,
        author=author,
        reason=body.reason,
        limits=limits,
    )
    return PolicyVersionOut.of(row, created=True)


@router.post(
    "/v1/org/policy/rollback",
    status_code=201,
    responses=problem_responses(PolicyNotFound, *LIMIT_ERRORS, *PUBLISHED),
)
async def rollback_org_policy(
    body: RollbackRequest, session: DbSession, rt: RuntimeDep, author: Author, limits: Limits
) -> PolicyVersionOut:
    row = await service.rollback(
        session,
        rt.tables.outbox,
        Target("org"),
        body.to_version,
        author=author,
        reason=body.reason,
        limits=limits,
    )
    return PolicyVersionOut.of(row, created=True)


@router.get(
    "/v1/agencies/{agency}/policy/effective", responses=problem_responses(*AGENCY, PolicyNotFound)
)
async def effective_policy(
    agency: OwnAgency, session: DbSession, team: TeamQuery = None
) -> EffectivePolicyOut:
    """The merged policy (org → agency → team) with the layer each value came from."""
    return EffectivePolicyOut.of(await service.explain_effective(session, agency, team))
