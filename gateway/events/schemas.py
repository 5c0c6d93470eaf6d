"""Delivery events accepted by ``POST /v1/events`` (documented in docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from cortex_contracts.names import NAME_MAX_LENGTH, NAME_RULE, name_problem
from cortex_kit.text import IdentifierText, StorableText

# Every string of an event is one the store can hold (no NUL, no unpaired surrogate), and ids
# hold no control character either (cortex_kit.text): a 202 must mean "stored", so what the
# collector could not store is refused here, with its location, before anything is staged.


def checked_name(value: str) -> str:
    """``value`` without surrounding spaces; ValueError (the fix first) if it is no name."""
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value.strip(" ")


# Services and environments: the one name rule of cortex_contracts.names (docs/metrics.md).
Name = Annotated[
    str,
    # No max_length here: the rule's own check says how to fix a long name.
    Field(description=f"A name: {NAME_RULE}.", json_schema_extra={"maxLength": NAME_MAX_LENGTH}),
    AfterValidator(checked_name),
]
EventId = Annotated[IdentifierText, Field(min_length=1, max_length=200)]
Reference = Annotated[IdentifierText, Field(max_length=200)]
"""The id of another event (or of a PR): empty for none."""


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChangeEvent(_Event):
    type: Literal["change"]
    id: EventId = Field(description="Idempotency key of this event (e.g. the commit sha).")
    commit_sha: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{7,64}$")]
    repo: StorableText = Field(default="", max_length=500)
    service: Name
    authored_at: AwareDatetime | None = None
    committed_at: AwareDatetime
    pr_id: Reference = ""
    pr_opened_at: AwareDatetime | None = None
    pr_merged_at: AwareDatetime | None = None
    author: StorableText = Field(default="", max_length=200)


class DeploymentEvent(_Event):
    type: Literal["deployment"]
    id: EventId = Field(description="The deployment id.")
    service: Name
    environment: Name = "production"
    status: Literal["succeeded", "failed", "in_progress", "rolled_back", "cancelled"]
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    commit_shas: list[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{7,64}$")]] = Field(
        default_factory=list, max_length=10_000
    )
    labels: list[Annotated[StorableText, Field(max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    fixes_incident: Reference = ""
    rollback_of: Reference = ""
    head_commit: Annotated[str, Field(pattern=r"^([0-9a-fA-F]{7,64})?$")] = Field(
        default="",
        description="The commit deployed; without commit_shas the commit set is the range "
        "from the previous successful deployment's head to it.",
    )
    ships_no_commits: bool = Field(
        default=False,
        description="True for a deployment that ships no commits (config-only); an empty "
        "commit_shas means 'infer the commit set'.",
    )


class IncidentEvent(_Event):
    type: Literal["incident"]
    id: EventId = Field(description="The incident id.")
    service: Name
    environment: Name = "production"
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    severity: Annotated[StorableText, Field(max_length=50)] = ""
    caused_by_deployment: Reference = ""
    caused_by_commit: Annotated[IdentifierText, Field(max_length=64)] = ""
    reopened_at: AwareDatetime | None = Field(
        default=None, description="Last reopen; later than resolved_at means open again."
    )
    reported_at: AwareDatetime | None = Field(
        default=None, description="When the source reported this state (latest severity wins)."
    )


DeliveryEvent = Annotated[
    ChangeEvent | DeploymentEvent | IncidentEvent, Field(discriminator="type")
]


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency: IdentifierText | None = Field(
        default=None, description="Required only for org-wide keys."
    )
    events: list[DeliveryEvent] = Field(min_length=1)


class AcceptedEvent(BaseModel):
    type: str
    id: str
    envelope_id: str


class EventsAccepted(BaseModel):
    agency: str
    accepted: int
    events: list[AcceptedEvent]
