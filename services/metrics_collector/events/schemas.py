from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

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
    facts: dict[str, Any]


class StoredEventList(BaseModel):
    items: list[StoredEvent]
