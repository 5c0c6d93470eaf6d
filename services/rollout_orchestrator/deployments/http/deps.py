"""Request dependencies of the deployment routes: the caller (the principal the gateway signs)
and the plan's body (YAML or JSON, size-limited, safe-loaded)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import yaml
from fastapi import Depends, Header, Request

from cortex_kit.web import PRINCIPAL_HEADER
from rollout_orchestrator.errors import (
    ActorRequired,
    InvalidPlan,
    PlanTooLarge,
    UnsupportedPlanType,
)
from rollout_orchestrator.state import state_of

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


async def _principal(
    principal: Annotated[str | None, Header(alias=PRINCIPAL_HEADER, max_length=200)] = None,
) -> str:
    if not principal:
        raise ActorRequired(
            f"The {PRINCIPAL_HEADER} header is missing.",
            remediation="Call the service through the gateway, which sets the caller.",
        )
    return principal


Principal = Annotated[str, Depends(_principal)]


def _not_a_document(why: str) -> InvalidPlan:
    return InvalidPlan(
        f"The body is not a plan document: {why}.",
        remediation="Send the plan as YAML (application/yaml) or JSON (application/json).",
        extra={"errors": [{"loc": [], "msg": why, "type": "document"}]},
    )


def load_document(body: bytes, content_type: str) -> Any:
    """The plan document: JSON, or YAML by ``yaml.safe_load`` (no tags, no objects)."""
    media = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_a_document("not UTF-8") from exc
    if media in YAML_TYPES:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise _not_a_document(f"YAML: {str(exc)[:300]}") from exc
    if media in ("application/json", ""):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise _not_a_document(f"JSON: {exc}") from exc
    raise UnsupportedPlanType(
        f"Plans are YAML or JSON, not {media!r}.",
        remediation="Send Content-Type: application/yaml or application/json.",
    )


async def _document(request: Request) -> Any:
    limit = state_of(request).plan_max_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PlanTooLarge(
                f"The plan is larger than {limit} bytes.",
                remediation="Select targets by labels instead of listing thousands of ids.",
            )
    return load_document(bytes(body), request.headers.get("content-type", ""))


PlanDocument = Annotated[Any, Depends(_document)]
