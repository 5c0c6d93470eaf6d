"""Delivery events accepted by ``POST /v1/events`` (documented in docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Slug = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
EventId = Annotated[str, Field(min_length=1, max_length=200)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChangeEvent(_Event):
    type: Literal["change"]
    id: EventId = Field(description="Idempotency key of this event (e.g. the commit sha).")
    commit_sha: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{7,64}$")]
    repo: str = Field(default="", max_length=500)
    service: Slug
    authored_at: AwareDatetime | None = None
    committed_at: AwareDatetime
    pr_id: str = Field(default="", max_length=200)
    pr_opened_at: AwareDatetime | None = None
    pr_merged_at: AwareDatetime | None = None
    author: str = Field(default="", max_length=200)


class DeploymentEvent(_Event):
    type: Literal["deployment"]
    id: EventId = Field(description="The deployment id.")
    service: Slug
    environment: Slug = "production"
    status: Literal["succeeded", "failed", "in_progress", "rolled_back", "cancelled"]
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    commit_shas: list[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{7,64}$")]] = Field(
        default_factory=list, max_length=10_000
    )
    labels: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    fixes_incident: str = Field(default="", max_length=200)
    rollback_of: str = Field(default="", max_length=200)


class IncidentEvent(_Event):
    type: Literal["incident"]
    id: EventId = Field(description="The incident id.")
    service: Slug
    environment: Slug = "production"
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    severity: str = Field(default="", max_length=50)
    caused_by_deployment: str = Field(default="", max_length=200)
    caused_by_commit: str = Field(default="", max_length=64)


DeliveryEvent = Annotated[
    ChangeEvent | DeploymentEvent | IncidentEvent, Field(discriminator="type")
]


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency: str | None = Field(default=None, description="Required only for org-wide keys.")
    events: list[DeliveryEvent] = Field(min_length=1)


class AcceptedEvent(BaseModel):
    type: str
    id: str
    envelope_id: str


class EventsAccepted(BaseModel):
    agency: str
    accepted: int
    events: list[AcceptedEvent]
