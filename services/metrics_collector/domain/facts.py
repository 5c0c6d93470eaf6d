"""Pure mapping of delivery payloads to stored facts (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import ChangeRecorded, DeploymentRecorded, IncidentRecorded


@dataclass(frozen=True)
class DeliveryFact:
    agency: str
    kind: str
    event_id: str
    service: str
    environment: str | None
    occurred_at: datetime
    envelope_id: str
    source: str
    facts: dict[str, Any]


def _when(*stamps: Timestamp, fallback: datetime) -> datetime:
    for stamp in stamps:
        if stamp.seconds or stamp.nanos:
            return stamp.ToDatetime(tzinfo=fallback.tzinfo)
    return fallback


def to_fact(
    payload: Message, *, agency: str, envelope_id: str, source: str, occurred_at: datetime
) -> DeliveryFact:
    """The stored row of a change, deployment or incident; raises TypeError for other payloads."""
    facts = MessageToDict(payload, preserving_proto_field_name=True)
    common: dict[str, Any] = {
        "agency": agency,
        "envelope_id": envelope_id,
        "source": source,
        "facts": facts,
    }
    if isinstance(payload, ChangeRecorded):
        return DeliveryFact(
            kind="change",
            event_id=payload.event_id or payload.commit_sha,
            service=payload.service,
            environment=None,
            occurred_at=_when(payload.committed_at, payload.authored_at, fallback=occurred_at),
            **common,
        )
    if isinstance(payload, DeploymentRecorded):
        return DeliveryFact(
            kind="deployment",
            event_id=payload.deployment_id,
            service=payload.service,
            environment=payload.environment or None,
            occurred_at=_when(payload.finished_at, payload.started_at, fallback=occurred_at),
            **common,
        )
    if isinstance(payload, IncidentRecorded):
        return DeliveryFact(
            kind="incident",
            event_id=payload.incident_id,
            service=payload.service,
            environment=payload.environment or None,
            occurred_at=_when(payload.opened_at, fallback=occurred_at),
            **common,
        )
    raise TypeError(f"not a delivery payload: {payload.DESCRIPTOR.full_name}")
