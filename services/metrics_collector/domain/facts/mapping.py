"""Pure mapping of delivery payloads to stored facts, and of a fact's versions to one (no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import (
    ChangeRecorded,
    DeploymentFinished,
    DeploymentRecorded,
    IncidentRecorded,
    RolledBack,
)
from cortex_contracts.names import name_problem
from cortex_kit.text import identifier_problem
from metrics_collector.domain.facts.model import (
    STORED_FIELDS,
    Change,
    Deployment,
    canonical_environment,
    canonical_service,
    fact_from_stored,
    merge_order,
    merge_reports,
    to_stored,
)
from metrics_collector.domain.facts.rollouts import revision_change, rollout_deployment


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


_TIMESTAMP = "google.protobuf.Timestamp"
_PLAIN = frozenset(
    {
        FieldDescriptor.TYPE_STRING,
        FieldDescriptor.TYPE_BOOL,
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_FIXED32,
    }
)
_EPOCH = datetime(1970, 1, 1)
# Timestamp's valid range (0001-01-01 … 9999-12-31); outside it ToJsonString decides.
_MIN_S, _MAX_S = -62_135_596_800, 253_402_300_799


def timestamp_json(stamp: Timestamp) -> str:
    """``stamp.ToJsonString()`` (RFC 3339, UTC, 0/3/6/9 fraction digits), a little faster."""
    seconds, nanos = stamp.seconds, stamp.nanos
    if not (_MIN_S <= seconds <= _MAX_S and 0 <= nanos < 1_000_000_000):
        return stamp.ToJsonString()
    text = (_EPOCH + timedelta(seconds=seconds)).isoformat()
    if nanos == 0:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if nanos % 1_000 == 0:
        return f"{text}.{nanos // 1_000:06d}Z"
    return f"{text}.{nanos:09d}Z"


class _Fallback(Exception):
    """A field ``payload_dict`` leaves to ``MessageToDict``."""


def _fallback(_value: Any) -> Any:
    raise _Fallback


def _converter(field: FieldDescriptor) -> Callable[[Any], Any]:
    if field.message_type is not None:
        if field.is_repeated or field.message_type.full_name != _TIMESTAMP:
            return _fallback
        return timestamp_json
    if field.enum_type is not None:
        if field.is_repeated:
            return _fallback
        names = {v.number: v.name for v in field.enum_type.values}

        def enum_name(value: int) -> str:
            if value not in names:  # an unknown number: MessageToDict writes the number
                raise _Fallback
            return names[value]

        return enum_name
    if field.type in _PLAIN:
        return list if field.is_repeated else _same
    return _fallback  # 64-bit ints (strings in JSON), floats, bytes: MessageToDict's rules


def _same(value: Any) -> Any:
    return value


# Per field descriptor (a handful of fields in all), its name and converter, decided once.
_CONVERTERS: dict[FieldDescriptor, tuple[str, Callable[[Any], Any]]] = {}


def payload_dict(payload: Message) -> dict[str, Any]:
    """``MessageToDict(payload, preserving_proto_field_name=True)``, several times faster for
    the flat delivery payloads (strings, enums, Timestamps, 32-bit ints, repeated strings);
    any other field falls back to ``MessageToDict`` itself."""
    out: dict[str, Any] = {}
    try:
        for field, value in payload.ListFields():
            known = _CONVERTERS.get(field)
            if known is None:
                known = _CONVERTERS[field] = (field.name, _converter(field))
            out[known[0]] = known[1](value)
    except _Fallback:
        return MessageToDict(payload, preserving_proto_field_name=True)
    return out


def to_fact(
    payload: Message, *, agency: str, envelope_id: str, source: str, occurred_at: datetime
) -> DeliveryFact:
    """The stored row of a change, deployment or incident; raises TypeError for other payloads."""
    if isinstance(payload, DeploymentFinished | RolledBack):
        payload = rollout_deployment(payload)
    facts = payload_dict(payload)
    service = _identify_service(facts)
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
            service=service,
            environment=None,
            occurred_at=_when(payload.committed_at, payload.authored_at, fallback=occurred_at),
            **common,
        )
    if isinstance(payload, DeploymentRecorded):
        return DeliveryFact(
            kind="deployment",
            event_id=payload.deployment_id,
            service=service,
            environment=facts.get("environment") or None,
            occurred_at=_when(payload.finished_at, payload.started_at, fallback=occurred_at),
            **common,
        )
    if isinstance(payload, IncidentRecorded):
        return DeliveryFact(
            kind="incident",
            event_id=payload.incident_id,
            service=service,
            environment=facts.get("environment") or None,
            occurred_at=_when(payload.opened_at, fallback=occurred_at),
            **common,
        )
    raise TypeError(f"not a delivery payload: {payload.DESCRIPTOR.full_name}")


def to_facts(
    payload: Message, *, agency: str, envelope_id: str, source: str, occurred_at: datetime
) -> list[DeliveryFact]:
    """Every stored row one event stands for: its fact (:func:`to_fact`), and for a finished
    rollout that names no commits, the change of its revision too (version
    ``<envelope id>/revision``)."""
    fact = to_fact(
        payload, agency=agency, envelope_id=envelope_id, source=source, occurred_at=occurred_at
    )
    change = revision_change(payload) if isinstance(payload, DeploymentFinished) else None
    if change is None:
        return [fact]
    revision = to_fact(
        change,
        agency=agency,
        envelope_id=f"{envelope_id}/revision",
        source=source,
        occurred_at=occurred_at,
    )
    return [fact, revision]


def _check_names(service: str, environment: str) -> None:
    # The one name rule of every door (cortex_contracts.names). Empty stays allowed here, as
    # before: a producer on the bus may leave the environment (or, in old tests, the service)
    # out; REST and the webhooks require both. A control character is left to the store's
    # check (events.decoding.fact_problem), which names the event it refuses.
    for field, value in (("service", service), ("environment", environment)):
        if not value or identifier_problem(value) is not None:
            continue
        if (problem := name_problem(value)) is not None:
            raise ValueError(f"{field}: {problem}")


def _identify_service(facts: dict[str, Any]) -> str:
    """The canonical service of a payload (docs/metrics.md "Facts"), its environment made
    canonical by the same rule; each name as sent is kept for display (``service_name``,
    ``environment_name``) when it differs."""
    sent = str(facts.get("service", ""))
    sent_environment = str(facts.get("environment", ""))
    _check_names(sent, sent_environment)
    service = canonical_service(sent)
    if service != sent:
        facts["service"], facts["service_name"] = service, sent
    environment = canonical_environment(sent_environment)
    if environment != sent_environment:
        facts["environment"], facts["environment_name"] = environment, sent_environment
    return service


def merge_versions(versions: Sequence[DeliveryFact]) -> DeliveryFact:
    """The one row that every stored version of an (agency, kind, event_id) stands for.

    The calculators' merge rule picks the winner and fills its empty fields (so the result
    depends on the set of versions, never on their order); fields the calculators do not read
    (repo, author, source, ...) are taken from the same reports in the same order.
    """
    if not versions:
        raise ValueError("no version to merge")
    if len(versions) == 1:
        return versions[0]
    kind = versions[0].kind
    facts = [
        fact_from_stored(kind, v.facts, event_id=v.event_id, occurred_at=v.occurred_at)
        for v in versions
    ]
    ordered = [versions[i] for i in merge_order(facts)]
    merged = merge_reports(facts)
    raw: dict[str, Any] = {}
    for version in reversed(ordered):  # the winner last, so its fields win
        raw.update(version.facts)
    known = STORED_FIELDS[kind]
    stored = {k: v for k, v in raw.items() if k not in known} | to_stored(merged)
    winner = ordered[0]
    if isinstance(merged, Change):
        environment, occurred_at = None, merged.committed_at
    elif isinstance(merged, Deployment):
        environment = merged.environment or None
        occurred_at = merged.finished_at or merged.started_at
    else:
        environment, occurred_at = merged.environment or None, merged.opened_at
    return DeliveryFact(
        agency=winner.agency,
        kind=kind,
        event_id=winner.event_id,
        service=merged.service,
        environment=environment,
        occurred_at=occurred_at,
        envelope_id=winner.envelope_id,
        source=winner.source,
        facts=stored,
    )
