"""Notifications' pydantic I/O. The signing secret is write-only (``SecretStr`` in, shown once
when generated); target URLs are shown by their origin only."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from approval_workflow.notifications import urls
from approval_workflow.notifications.message import NOTIFICATION_EVENTS, NotificationEvent
from approval_workflow.notifications.service import Configured, Overview
from approval_workflow.notifications.signing import SIGNATURE_HEADER
from cortex_kit.text import identifier_problem

MAX_TARGETS = 5


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1,
        max_length=urls.MAX_URL_CHARS,
        description="An https (or http) URL receiving the JSON POSTs, e.g. a Slack incoming "
        "webhook. Public addresses only unless the service allows private ones.",
    )
    events: list[NotificationEvent] = Field(
        default_factory=lambda: list(NOTIFICATION_EVENTS),
        min_length=1,
        description="Which events it receives (default: all).",
    )

    @field_validator("events")
    @classmethod
    def _distinct(cls, events: list[NotificationEvent]) -> list[NotificationEvent]:
        return list(dict.fromkeys(events))


class NotificationsIn(BaseModel):
    """The agency's whole configuration (a PUT replaces it)."""

    model_config = ConfigDict(extra="forbid")
    targets: list[TargetIn] = Field(min_length=1, max_length=MAX_TARGETS)
    secret: SecretStr | None = Field(
        default=None,
        min_length=16,
        max_length=512,
        description="The HMAC signing secret to use. Omitted: the stored one is kept, or one "
        "is generated (and answered this once).",
    )
    rotate_secret: bool = Field(
        default=False, description="Generate a new secret (answered this once)."
    )

    @field_validator("secret")
    @classmethod
    def _printable(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None:
            problem = identifier_problem(secret.get_secret_value())
            if problem is not None:  # the problem names a position, never the secret
                raise ValueError(f"the secret {problem}")
        return secret

    @field_validator("targets")
    @classmethod
    def _distinct_urls(cls, targets: list[TargetIn]) -> list[TargetIn]:
        if len({t.url for t in targets}) < len(targets):
            raise ValueError("each URL may be listed once")
        return targets


class TargetOut(BaseModel):
    id: str = Field(description="Stable for a URL; named by failed deliveries.")
    url: str = Field(description="The URL's origin; its path and query are not shown.")
    events: list[NotificationEvent]


class DeliveryCounts(BaseModel):
    pending: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0


class FailedDelivery(BaseModel):
    id: str = Field(description="The X-Cortex-Delivery id it was sent with.")
    approval_id: str
    target_id: str
    event: NotificationEvent
    attempts: int
    last_status: int | None = Field(description="The receiver's last HTTP status, if any.")
    last_error: str | None
    failed_at: datetime | None


class NotificationsOut(BaseModel):
    agency: str
    configured: bool
    targets: list[TargetOut]
    secret: str | None = Field(
        default=None,
        description="Only in the answer to the PUT that generated it: keep it, it is never "
        "shown again.",
    )
    signature_header: str = SIGNATURE_HEADER
    updated_by: str | None
    updated_at: datetime | None
    deliveries: DeliveryCounts = Field(description="Notifications kept (recent ones).")
    failures: list[FailedDelivery] = Field(description="The most recent failed deliveries.")

    @classmethod
    def of(
        cls, agency: str, seen: Overview, configured: Configured | None = None
    ) -> NotificationsOut:
        config = configured.config if configured is not None else seen.config
        targets = [] if config is None else config.targets
        return cls(
            agency=agency,
            configured=config is not None,
            targets=[
                TargetOut(id=t.id, url=urls.redacted(t.url), events=_events(t.events))
                for t in targets
            ],
            secret=configured.new_secret if configured is not None else None,
            updated_by=None if config is None else config.settings.updated_by,
            updated_at=None if config is None else config.settings.updated_at,
            deliveries=DeliveryCounts(**seen.counts),
            failures=[
                FailedDelivery(
                    id=f.id,
                    approval_id=f.approval_id,
                    target_id=f.target_id,
                    event=_events([f.event])[0],
                    attempts=f.attempts,
                    last_status=f.last_status,
                    last_error=f.last_error,
                    failed_at=f.finished_at,
                )
                for f in seen.failures
            ],
        )


def _events(values: list[str]) -> list[NotificationEvent]:
    return [e for e in NOTIFICATION_EVENTS if e in values]
