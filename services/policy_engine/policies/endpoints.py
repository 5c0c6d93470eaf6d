"""Policy documents: validate, publish, read, history, diff, rollback, effective (thin HTTP)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from cortex_kit.errors import AgencyForbidden, CortexError, problem_responses
from cortex_kit.runtime import DbSession, RuntimeDep
from cortex_kit.web import PRINCIPAL_HEADER, CallerAgency
from policy_engine.domain.document.parse_limits import DEFAULT_LIMITS, LimitExceeded, ParseLimits
from policy_engine.domain.document.schema import policy_json_schema
from policy_engine.errors import (
    AGENCY,
    PUBLISHED,
    InvalidEncoding,
    PolicyInvalidError,
    PolicyNotFound,
    UnsupportedMediaType,
)
from policy_engine.policies import service
from policy_engine.policies.parsing import LIMIT_ERRORS, limit_error
from policy_engine.policies.schemas import (
    PolicyHistory,
    PolicyVersionInfo,
    PolicyVersionOut,
    RollbackRequest,
    ValidationResult,
)
from policy_engine.policies.service import ContentType, Target
from policy_engine.settings import Settings

router = APIRouter(tags=["policies"])
Team = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Author = Annotated[str, Header(alias=PRINCIPAL_HEADER)]
PolicyText = Annotated[str, Body(media_type="application/yaml")]
TEXT: tuple[type[CortexError], ...] = (UnsupportedMediaType, InvalidEncoding, *LIMIT_ERRORS)


def _content_type(request: Request) -> ContentType:
    media = request.headers.get("content-type", "application/yaml").split(";")[0].strip()
    if media == "application/json":
        return "json"
    if media in ("application/yaml", "application/x-yaml", "text/yaml", "text/plain", ""):
        return "yaml"
    raise UnsupportedMediaType(
        f"Unsupported content type {media!r}.",
        remediation="Send the policy as application/yaml or application/json.",
    )


def parse_limits(rt: RuntimeDep) -> ParseLimits:
    settings = rt.settings
    if not isinstance(settings, Settings):  # an app built around the engine's routers
        return DEFAULT_LIMITS
    return ParseLimits(
        max_bytes=settings.policy_max_bytes,
        max_depth=settings.policy_max_depth,
        max_aliases=settings.policy_max_aliases,
        max_nodes=settings.policy_max_nodes,
    )


Limits = Annotated[ParseLimits, Depends(parse_limits)]


def _too_large(size: int, limits: ParseLimits, what: str) -> CortexError:
    exceeded = LimitExceeded(
        "max_bytes",
        limits.max_bytes,
        f"the body is {size}+ bytes, more than the limit of {limits.max_bytes}",
    )
    return limit_error(exceeded, what)


async def read_body(request: Request, limits: ParseLimits, what: str = "policy") -> bytes:
    """The body, refused (413) as soon as it passes ``limits.max_bytes`` — never buffered whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(int(declared), limits, what)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_bytes:
            raise _too_large(size, limits, what)
        chunks.append(chunk)
    return b"".join(chunks)


async def _text(request: Request, limits: ParseLimits) -> str:
    raw = await read_body(request, limits)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEncoding(
            "The policy is not valid UTF-8.", remediation="Save the file as UTF-8."
        ) from None


def agency_target(agency: str, caller: str, team: str | None) -> Target:
    if agency != caller:
        raise AgencyForbidden(
            f"This call is authorised for agency {caller!r}, not {agency!r}.",
            remediation="Use a key of that agency.",
        )
    return Target("team", agency, team) if team else Target("agency", agency)


@router.get("/v1/policies/schema", responses=problem_responses())
async def schema() -> dict[str, Any]:
    """JSON Schema of the AIPolicy document."""
    return policy_json_schema()


@router.post(
    "/v1/policies/validate",
    openapi_extra={"requestBody": {"content": {"application/yaml": {}}}},
    responses=problem_responses(*TEXT),
)
async def validate(request: Request, limits: Limits) -> ValidationResult:
    """Validate a policy without publishing it: every problem with line, column and fix."""
    content_type = _content_type(request)
    try:
        await service.validate_text(await _text(request, limits), content_type, limits)
    except PolicyInvalidError as exc:
        return ValidationResult(valid=False, issues=exc.extra["issues"])
    return ValidationResult(valid=True, issues=[])


async def _publish(
    request: Request, session: DbSession, rt: RuntimeDep, target: Target, author: str, message: str
) -> Response:
    limits = parse_limits(rt)
    content_type = _content_type(request)
    row, created = await service.publish(
        session,
        rt.tables.outbox,
        target,
        await _text(request, limits),
        content_type,
        author=author,
        message=message,
        limits=limits,
    )
    body = PolicyVersionOut.model_validate({**row, "created": created})
    return Response(
        body.model_dump_json(), status_code=201 if created else 200, media_type="application/json"
    )


@router.put(
    "/v1/agencies/{agency}/policy",
    response_model=PolicyVersionOut,
    responses=problem_responses(*AGENCY, *TEXT, *PUBLISHED),
)
async def publish_agency_policy(
    agency: str,
    request: Request,
    session: DbSession,
    rt: RuntimeDep,
    caller: CallerAgency,
    author: Author,
    team: Team = None,
    message: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """Publish a new immutable version (201), or 200 when the content is unchanged."""
    return await _publish(
        request, session, rt, agency_target(agency, caller, team), author, message
    )


@router.put(
    "/v1/org/policy",
    response_model=PolicyVersionOut,
    responses=problem_responses(*TEXT, *PUBLISHED),
)
async def publish_org_policy(
    request: Request,
    session: DbSession,
    rt: RuntimeDep,
    author: Author,
    message: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    return await _publish(request, session, rt, Target("org"), author, message)


@router.get("/v1/agencies/{agency}/policy", responses=problem_responses(*AGENCY, PolicyNotFound))
async def get_policy(
    agency: str,
    session: DbSession,
    caller: CallerAgency,
    team: Team = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> PolicyVersionOut:
    row = await service.get_version(session, agency_target(agency, caller, team), version)
    return PolicyVersionOut.model_validate(row)


@router.get("/v1/org/policy", responses=problem_responses(PolicyNotFound))
async def get_org_policy(
    session: DbSession, version: Annotated[int | None, Query(ge=1)] = None
) -> PolicyVersionOut:
    return PolicyVersionOut.model_validate(
        await service.get_version(session, Target("org"), version)
    )


@router.get("/v1/agencies/{agency}/policy/versions", responses=problem_responses(*AGENCY))
async def policy_versions(
    agency: str,
    session: DbSession,
    caller: CallerAgency,
    team: Team = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PolicyHistory:
    target = agency_target(agency, caller, team)
    rows = await service.history(session, target, limit)
    return PolicyHistory(
        scope=target.scope, items=[PolicyVersionInfo.model_validate(r) for r in rows]
    )


@router.get("/v1/org/policy/versions", responses=problem_responses())
async def org_policy_versions(
    session: DbSession, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> PolicyHistory:
    rows = await service.history(session, Target("org"), limit)
    return PolicyHistory(scope="org", items=[PolicyVersionInfo.model_validate(r) for r in rows])


@router.get(
    "/v1/agencies/{agency}/policy/diff", responses=problem_responses(*AGENCY, PolicyNotFound)
)
async def policy_diff(
    agency: str,
    session: DbSession,
    caller: CallerAgency,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int | None, Query(alias="to", ge=1)] = None,
    team: Team = None,
) -> dict[str, Any]:
    """Changes from one version to another (default: to the latest)."""
    return await service.diff(
        session, agency_target(agency, caller, team), from_version, to_version
    )


@router.post(
    "/v1/agencies/{agency}/policy/rollback",
    status_code=201,
    responses=problem_responses(*AGENCY, PolicyNotFound, *LIMIT_ERRORS, *PUBLISHED),
)
async def rollback_policy(
    agency: str,
    body: RollbackRequest,
    session: DbSession,
    rt: RuntimeDep,
    caller: CallerAgency,
    author: Author,
    team: Team = None,
) -> PolicyVersionOut:
    """Publish an earlier version's content as a new version."""
    row = await service.rollback(
        session,
        rt.tables.outbox,
        agency_target(agency, caller, team),
        body.to_version,
        author=author,
        reason=body.reason,
        limits=parse_limits(rt),
    )
    return PolicyVersionOut.model_validate({**row, "created": True})


@router.post(
    "/v1/org/policy/rollback",
    status_code=201,
    responses=problem_responses(PolicyNotFound, *LIMIT_ERRORS, *PUBLISHED),
)
async def rollback_org_policy(
    body: RollbackRequest, session: DbSession, rt: RuntimeDep, author: Author
) -> PolicyVersionOut:
    row = await service.rollback(
        session,
        rt.tables.outbox,
        Target("org"),
        body.to_version,
        author=author,
        reason=body.reason,
        limits=parse_limits(rt),
    )
    return PolicyVersionOut.model_validate({**row, "created": True})


@router.get(
    "/v1/agencies/{agency}/policy/effective", responses=problem_responses(*AGENCY, PolicyNotFound)
)
async def effective_policy(
    agency: str, session: DbSession, caller: CallerAgency, team: Team = None
) -> dict[str, Any]:
    """The merged policy (org → agency → team) with the layer each value came from."""
    target = agency_target(agency, caller, team)
    policy = await service.effective(session, agency, team)
    if policy is None:
        raise service.not_found(target)
    return {
        "agency": agency,
        "team": team,
        "version": service.version_label(policy),
        **policy.explain(),
    }
