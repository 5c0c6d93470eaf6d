from datetime import datetime
from typing import Any, Literal, Self

from google.protobuf.message import Message
from pydantic import BaseModel, Field, model_validator

from cortex_contracts import ChangeRecorded, DeploymentRecorded, IncidentRecorded
from cortex_contracts.public import public_fields

EventKind = Literal["change", "deployment", "incident"]
# The payload each kind of stored row was made from (its enum fields are stored by name).
_PAYLOADS: dict[str, type[Message]] = {
    "change": ChangeRecorded,
    "deployment": DeploymentRecorded,
    "incident": IncidentRecorded,
}


class StoredEvent(BaseModel):
    agency: str
    kind: EventKind
    event_id: str
    service: str
    environment: str | None
    occurred_at: datetime
    received_at: datetime
    source: str
    facts: dict[str, Any] = Field(
        description="The merged fact: every version received, merged by the documented rule."
    )
    versions: int = Field(default=1, description="How many versions were received.")
    updated_at: datetime | None = None

    @model_validator(mode="after")
    def _public_words(self) -> Self:
        """Rows hold protobuf enum names; the answer says ``succeeded``, as requests do."""
        self.facts = public_fields(_PAYLOADS[self.kind], self.facts)
        return self


class StoredEventList(BaseModel):
    items: list[StoredEvent]


class DeploymentFinishesQuery(BaseModel):
    deployment_ids: list[str] = Field(max_length=10_000)


class DeploymentFinish(BaseModel):
    deployment_id: str
    finished_at: datetime = Field(
        description="Where the metrics place it: its finish (its start if it has none)."
    )


class DeploymentFinishes(BaseModel):
    """The known, finished deployments among those asked about (others are absent)."""

    deployments: list[DeploymentFinish]
