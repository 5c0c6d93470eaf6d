"""Webhooks: secrets (admin, policy-admin) and the providers' deliveries (signature only).

A delivery carries no API key: the signature made with the agency's secret authenticates it,
and ``?agency=`` says whose secret to check it against.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from cortex_kit.errors import problem_responses
from cortex_kit.runtime import DbSession, get_runtime
from gateway.auth.deps import resolve_agency
from gateway.errors import AGENCY_SCOPED, gateway_responses
from gateway.state import gateway_state
from gateway.webhooks import service
from gateway.webhooks.crypto import WebhookSecretUnreadable
from gateway.webhooks.deps import AgencySlug, Name, Reader, SecretAdmin
from gateway.webhooks.errors import (
    WebhookPayloadError,
    WebhookSecretNotFound,
    WebhookSignatureMissing,
    WebhookUnauthorized,
)
from gateway.webhooks.mapping import Overrides
from gateway.webhooks.schemas import SecretIn, SecretStatus, WebhookAccepted
from gateway.webhooks.signatures import Provider

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
SCOPED = gateway_responses(*AGENCY_SCOPED)
# A delivery carries no API key: its signature is checked instead.
DELIVERY = problem_responses(
    WebhookUnauthorized, WebhookSignatureMissing, WebhookPayloadError, WebhookSecretUnreadable
)


@router.put("/{provider}/secret", responses=SCOPED)
async def set_secret(
    provider: Provider, body: SecretIn, request: Request, session: DbSession, caller: SecretAdmin
) -> SecretStatus:
    """Set (or rotate) the agency's secret for this provider; it is never shown again."""
    agency = resolve_agency(caller, request, body.agency)
    return await service.set_secret(
        session,
        gateway_state(request).secrets,
        agency,
        provider,
        body.secret.get_secret_value(),
        caller.key_id,
    )


@router.get("/{provider}/secret", responses=SCOPED)
async def secret_status(
    provider: Provider,
    request: Request,
    session: DbSession,
    caller: Reader,
    agency: str | None = None,
) -> SecretStatus:
    """Whether a secret is set (never the secret)."""
    return await service.secret_status(session, resolve_agency(caller, request, agency), provider)


@router.delete(
    "/{provider}/secret",
    status_code=204,
    response_class=Response,
    response_description="Deleted (no body).",
    responses=gateway_responses(WebhookSecretNotFound, *AGENCY_SCOPED),
)
async def delete_secret(
    provider: Provider,
    request: Request,
    session: DbSession,
    caller: SecretAdmin,
    agency: str | None = None,
) -> None:
    await service.delete_secret(
        session, resolve_agency(caller, request, agency), provider, caller.key_id
    )


async def _receive(
    provider: Provider,
    request: Request,
    session: DbSession,
    agency: str,
    overrides: Overrides,
) -> WebhookAccepted:
    return await service.receive(
        session,
        get_runtime(request).tables.outbox,
        gateway_state(request).secrets,
        gateway_state(request).mappings,
        agency=agency,
        provider=provider,
        body=await request.body(),
        headers=request.headers,
        overrides=overrides,
    )


@router.post("/github", status_code=202, responses=DELIVERY)
async def github(
    request: Request,
    session: DbSession,
    agency: AgencySlug,
    service_name: Annotated[Name, Query(alias="service")] = None,
    environment: Name = None,
    branch: Annotated[str | None, Query(max_length=255)] = None,
) -> WebhookAccepted:
    """``push`` (delivery branch) → changes, ``pull_request`` (merged) → the merge commit with
    its PR times, ``deployment_status`` → deployments. Signed with ``X-Hub-Signature-256``."""
    overrides = Overrides(service_name, environment, branch)
    return await _receive(Provider.GITHUB, request, session, agency, overrides)


@router.post("/gitlab", status_code=202, responses=DELIVERY)
async def gitlab(
    request: Request,
    session: DbSession,
    agency: AgencySlug,
    service_name: Annotated[Name, Query(alias="service")] = None,
    environment: Name = None,
    branch: Annotated[str | None, Query(max_length=255)] = None,
) -> WebhookAccepted:
    """Push, merge request (merged) and deployment hooks, with ``X-Gitlab-Token``."""
    overrides = Overrides(service_name, environment, branch)
    return await _receive(Provider.GITLAB, request, session, agency, overrides)


@router.post("/pagerduty", status_code=202, responses=DELIVERY)
async def pagerduty(
    request: Request,
    session: DbSession,
    agency: AgencySlug,
    service_name: Annotated[Name, Query(alias="service")] = None,
    environment: Name = None,
) -> WebhookAccepted:
    """v3 ``incident.triggered`` / ``incident.resolved``, with ``X-PagerDuty-Signature``."""
    overrides = Overrides(service_name, environment)
    return await _receive(Provider.PAGERDUTY, request, session, agency, overrides)
