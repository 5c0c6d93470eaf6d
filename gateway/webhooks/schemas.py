"""HTTP I/O of the webhooks (payloads themselves are the providers')."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from cortex_kit.text import IdentifierText, identifier_problem
from gateway.events.schemas import AcceptedEvent
from gateway.webhooks.signatures import Provider


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: IdentifierText | None = Field(
        default=None, description="Required only for org-wide keys."
    )
    secret: SecretStr = Field(
        min_length=16,
        max_length=512,
        description="GitHub: the webhook secret; GitLab: the secret token; PagerDuty: the "
        "signing secret shown when the v3 webhook subscription is created.",
    )

    @field_validator("secret")
    @classmethod
    def _storable(cls, secret: SecretStr) -> SecretStr:
        problem = identifier_problem(secret.get_secret_value())
        if problem is not None:  # the problem names the position, never the secret
            raise ValueError(f"the secret {problem}; providers send printable secrets")
        return secret


class SecretStatus(BaseModel):
    """Whether a secret is set; the secret itself is never returned."""

    agency: str
    provider: Provider
    configured: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


Origin = Literal["query", "mapping", "payload", "default"]


class MappedEvent(AcceptedEvent):
    """One event of a delivery, with the service and environment it was mapped to."""

    service: str = Field(description="Canonical (docs/metrics.md 'Facts'), as stored.")
    environment: str | None = Field(description="Canonical; None for a change.")
    service_from: Origin = Field(
        description="query: the URL's ?service=; mapping: the agency's mapping; payload: the "
        "repository's (or PagerDuty service's) own name."
    )
    environment_from: Origin | None = Field(
        description="query: ?environment=; mapping: an alias of the mapping; payload: as the "
        "delivery names it; default: production (PagerDuty)."
    )


class WebhookAccepted(BaseModel):
    agency: str
    provider: Provider
    event_type: str
    accepted: int
    ignored: bool
    reason: str | None = Field(default=None, description="Why nothing was taken (ignored).")
    mapping_version: int = Field(
        default=0, description="The agency's mapping version it was mapped with (0: none)."
    )
    events: list[MappedEvent] = Field(default_factory=list)
    delivery_id: str | None = Field(
        default=None,
        description="The provider's delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID, "
        "PagerDuty event.id): a redelivery with it writes no new version.",
    )
    duplicate: bool = Field(
        default=False, description="True when this delivery id was already accepted."
    )
    warnings: list[str] = Field(
        default_factory=list, description="What the delivery said that could not be used."
    )
    truncated_commits: int = Field(
        default=0, description="Commits a GitLab push counted but did not list (not stored)."
    )
