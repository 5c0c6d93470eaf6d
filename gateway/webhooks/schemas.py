"""HTTP I/O of the webhooks (payloads themselves are the providers')."""

from __future__ import annotations

from datetime import datetime

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


class WebhookAccepted(BaseModel):
    agency: str
    provider: Provider
    event_type: str
    accepted: int
    ignored: bool
    reason: str | None = None
    events: list[AcceptedEvent] = Field(default_factory=list)
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
