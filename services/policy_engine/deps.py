"""Request dependencies the policy engine's features share: the caller's target, the parse
limits, bodies read within them. Endpoint modules import these, never each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request

from cortex_kit.errors import AgencyForbidden, CortexError
from cortex_kit.runtime import RuntimeDep
from cortex_kit.web import PRINCIPAL_HEADER, CallerAgency
from policy_engine.domain.document.parse_limits import DEFAULT_LIMITS, LimitExceeded, ParseLimits
from policy_engine.errors import InvalidEncoding, UnsupportedMediaType
from policy_engine.policies.parsing import (
    LIMIT_ERRORS,
    ContentType,
    limit_error,
    parse_json_body,
)
from policy_engine.policies.service import Target
from policy_engine.settings import Settings

TeamQuery = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Author = Annotated[str, Header(alias=PRINCIPAL_HEADER)]
"""The principal the gateway authenticated (recorded as a version's author)."""
TEXT: tuple[type[CortexError], ...] = (UnsupportedMediaType, InvalidEncoding, *LIMIT_ERRORS)
"""What reading a policy text may refuse."""


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
"""The parse limits of policy texts and JSON bodies (the engine's settings)."""


def _forbidden(agency: str, caller: str) -> AgencyForbidden:
    return AgencyForbidden(
        f"This call is authorised for agency {caller!r}, not {agency!r}.",
        remediation="Use a key of that agency.",
    )


def own_agency(agency: str, caller: CallerAgency) -> str:
    """The path's agency, when it is the caller's (403 ``agency_forbidden`` otherwise)."""
    if agency != caller:
        raise _forbidden(agency, caller)
    return agency


OwnAgency = Annotated[str, Depends(own_agency)]


def caller_target(agency: OwnAgency, team: TeamQuery = None) -> Target:
    """The caller's agency, or one of its teams (``?team=``), as a publication target."""
    return Target("team", agency, team) if team else Target("agency", agency)


CallerTarget = Annotated[Target, Depends(caller_target)]


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


@dataclass(frozen=True, slots=True)
class PolicyText:
    """A policy as sent: its text (UTF-8, within the byte limit) and how it is written."""

    text: str
    content_type: ContentType


async def policy_text(request: Request, limits: Limits) -> PolicyText:
    """The body as a policy text: 415 for another media type, 413 past the byte limit, 422
    ``invalid_encoding`` when it is not UTF-8."""
    content_type = _content_type(request)
    raw = await read_body(request, limits)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEncoding(
            "The policy is not valid UTF-8.", remediation="Save the file as UTF-8."
        ) from None
    return PolicyText(text, content_type)


PolicyBody = Annotated[PolicyText, Depends(policy_text)]


async def json_body(request: Request, limits: Limits) -> Any:
    """The body as JSON within the parse limits (413/422 ``invalid_body`` otherwise)."""
    return await parse_json_body(await read_body(request, limits, "request body"), limits)


JsonBody = Annotated[Any, Depends(json_body)]
