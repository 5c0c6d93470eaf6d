"""Use cases of webhooks: manage per-agency secrets; verify, map and stage a delivery."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from urllib.parse import parse_qs

from prometheus_client import Counter
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import DeploymentSource
from cortex_contracts.names import canonical_name
from cortex_kit.logs import get_logger
from gateway.events.schemas import AcceptedEvent
from gateway.events.service import accept_events
from gateway.mappings.service import MappingCache, mapping_for_delivery
from gateway.webhooks import repository
from gateway.webhooks.crypto import SecretBox
from gateway.webhooks.errors import (
    WebhookPayloadError,
    WebhookSecretNotFound,
    WebhookSignatureMissing,
    WebhookUnauthorized,
)
from gateway.webhooks.mapping import Mapped, Overrides, PayloadError, delivery_id, map_delivery
from gateway.webhooks.repository import SecretRow
from gateway.webhooks.schemas import MappedEvent, SecretStatus, WebhookAccepted
from gateway.webhooks.signatures import (
    SIGNATURE_HEADER,
    Provider,
    SignatureProblem,
    check_signature,
)

log = get_logger("gateway.webhooks")
EVENT_HEADER = {Provider.GITHUB: "X-GitHub-Event", Provider.GITLAB: "X-Gitlab-Event"}
COMMITS_TRUNCATED = Counter(
    "cortex_webhook_commits_truncated_total",
    "Commits a push delivery counted but did not list (GitLab lists at most 20): not stored.",
    ["provider"],
)


def _secret_path(provider: Provider) -> str:
    return f"PUT /v1/webhooks/{provider.value}/secret"


async def secret_status(session: AsyncSession, agency: str, provider: Provider) -> SecretStatus:
    row = await repository.status_of(session, agency, provider.value)
    if row is None:
        return SecretStatus(agency=agency, provider=provider, configured=False)
    return _status(agency, provider, row)


def _status(agency: str, provider: Provider, row: SecretRow) -> SecretStatus:
    return SecretStatus(
        agency=agency,
        provider=provider,
        configured=True,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


async def set_secret(
    session: AsyncSession, box: SecretBox, agency: str, provider: Provider, secret: str, by: str
) -> SecretStatus:
    row = await repository.put_secret(session, agency, provider.value, box.encrypt(secret), by)
    log.info("webhook.secret_set", agency=agency, provider=provider.value, by=by)
    return _status(agency, provider, row)


async def delete_secret(session: AsyncSession, agency: str, provider: Provider, by: str) -> None:
    if not await repository.delete_secret(session, agency, provider.value):
        raise WebhookSecretNotFound(
            f"No {provider.value} webhook secret for agency {agency!r}.",
            remediation=f"Set one with {_secret_path(provider)}.",
        )
    log.info("webhook.secret_deleted", agency=agency, provider=provider.value, by=by)


# Checked against when an agency has no secret, so that an unauthenticated caller gets the
# same answer, after the same work, whether or not the agency configured one.
_NO_SECRET = secrets.token_hex(32)


async def _verify(
    session: AsyncSession,
    box: SecretBox,
    agency: str,
    provider: Provider,
    body: bytes,
    headers: Mapping[str, str],
) -> None:
    token = await repository.ciphertext_of(session, agency, provider.value)
    # A secret no configured key decrypts is refused (WebhookSecretUnreadable): fail closed.
    secret = None if token is None else box.decrypt(token)
    problem = check_signature(provider, secret or _NO_SECRET, body, headers)
    if secret is None and problem is None:  # cannot happen short of guessing 256 random bits
        problem = SignatureProblem.INVALID
    if problem is None:
        return
    log.warning(
        "webhook.rejected",
        agency=agency,
        provider=provider.value,
        reason="not_configured" if secret is None else problem.value,
    )
    header = SIGNATURE_HEADER[provider]
    error = WebhookSignatureMissing if problem is SignatureProblem.MISSING else WebhookUnauthorized
    raise error(
        f"The {header} header is {'missing' if problem == 'missing_signature' else 'wrong'}.",
        remediation=f"Configure the {provider.value} webhook with the secret an admin set for "
        f"agency {agency!r} with {_secret_path(provider)} (rotate both sides together); "
        "nothing was stored.",
    )


def _payload(body: bytes) -> object:
    # GitHub may be set to send application/x-www-form-urlencoded: the JSON is in `payload`.
    if body.startswith(b"payload="):
        return json.loads(parse_qs(body.decode())["payload"][0])
    return json.loads(body)


async def receive(
    session: AsyncSession,
    outbox: Table,
    box: SecretBox,
    mappings: MappingCache,
    *,
    agency: str,
    provider: Provider,
    body: bytes,
    headers: Mapping[str, str],
    overrides: Overrides,
) -> WebhookAccepted:
    """Verify the signature first (a 401 stores nothing), map the delivery with the URL's
    query and the agency's mapping, then stage the events in the outbox, as
    ``POST /v1/events`` does."""
    await _verify(session, box, agency, provider, body, headers)
    mapping = await mapping_for_delivery(session, mappings, agency)
    try:
        payload = _payload(body)
        header = EVENT_HEADER.get(provider)
        event_type = headers.get(header) if header else None
        mapped = map_delivery(provider, event_type, payload, overrides, mapping)
        delivery = delivery_id(provider, headers, payload)
    except (ValueError, PayloadError) as exc:
        raise WebhookPayloadError(
            f"The {provider.value} payload cannot be used: {exc}",
            remediation="Send the provider's JSON payload unchanged (content type "
            "application/json); docs/metrics.md 'Webhooks' lists the fields used.",
        ) from exc
    result = WebhookAccepted(
        agency=agency,
        provider=provider,
        event_type=mapped.event_type,
        accepted=0,
        ignored=mapped.ignored is not None,
        reason=mapped.ignored,
        mapping_version=mapping.version,
        delivery_id=delivery,
        warnings=mapped.warnings,
        truncated_commits=mapped.truncated_commits,
    )
    if mapped.events:
        await _stage(session, outbox, agency, provider, mapped, result)
    if mapped.truncated_commits:
        COMMITS_TRUNCATED.labels(provider.value).inc(mapped.truncated_commits)
    log.info(
        "webhook.received",
        agency=agency,
        provider=provider.value,
        event_type=mapped.event_type,
        accepted=result.accepted,
        ignored=result.reason,
        mapping_version=mapping.version,
        delivery_id=delivery,
        duplicate=result.duplicate,
        warnings=len(result.warnings),
    )
    return result


async def _stage(
    session: AsyncSession,
    outbox: Table,
    agency: str,
    provider: Provider,
    mapped: Mapped,
    result: WebhookAccepted,
) -> None:
    """Stage the events under envelope ids derived from the delivery id: a redelivery still
    in the outbox is answered as a duplicate; one published earlier carries the same ids, so
    the collector's inbox and version table write nothing new."""
    key = f"{agency}/{provider.value}/{result.delivery_id}" if result.delivery_id else None
    try:
        async with session.begin_nested():
            staged = await accept_events(
                session,
                outbox,
                agency,
                mapped.events,
                source=f"webhook-{provider.value}",
                deployment_source=DeploymentSource.DEPLOYMENT_SOURCE_WEBHOOK,
                delivery_key=key,
            )
    except IntegrityError:
        if key is None:
            raise
        result.duplicate = True
        return
    result.accepted = staged.accepted
    result.events = [_mapped_event(mapped, i, e) for i, e in enumerate(staged.events)]


def _mapped_event(mapped: Mapped, index: int, accepted: AcceptedEvent) -> MappedEvent:
    event = mapped.events[index]
    environment = getattr(event, "environment", None)
    return MappedEvent(
        type=accepted.type,
        id=accepted.id,
        envelope_id=accepted.envelope_id,
        service=canonical_name(event.service),
        environment=None if environment is None else canonical_name(environment),
        service_from=mapped.service_from or "payload",
        environment_from=mapped.environment_from if environment is not None else None,
    )
