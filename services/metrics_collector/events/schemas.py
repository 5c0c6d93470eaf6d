from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

EventKind = Literal["change", "deployment", "incident"]


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


class StoredEventList(BaseModel):
    items: list[StoredEvent]
