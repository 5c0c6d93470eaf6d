"""NATS subject names and JetStream streams of the event contracts.

Subjects are `cortex.<domain>.<event>.<agency>`; each domain has one stream, and dead letters go
to `cortex.dlq.<domain>.<event>.<agency>` in the `CORTEX_DLQ` stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, NamedTuple

from google.protobuf.message import Message

from cortex_contracts._pb.cortex.approval.v1.approval_pb2 import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
)
from cortex_contracts._pb.cortex.decision.v1.decision_pb2 import DecisionRecorded
from cortex_contracts._pb.cortex.delivery.v1.delivery_pb2 import (
    ChangeRecorded,
    DeliveryBatch,
    DeploymentRecorded,
    IncidentRecorded,
)
from cortex_contracts._pb.cortex.deploy.v1.deploy_pb2 import (
    BatchCompleted,
    DeploymentFinished,
    DeploymentStarted,
    DeploymentTransitioned,
    RolledBack,
)
from cortex_contracts._pb.cortex.policy.v1.policy_pb2 import (
    BudgetThresholdCrossed,
    PolicyPublished,
    PolicyViolation,
)
from cortex_contracts.errors import UnknownEventType

PREFIX: Final = "cortex"
DLQ_PREFIX: Final = f"{PREFIX}.dlq"
DOMAINS: Final = ("delivery", "deploy", "policy", "decision", "approval", "agent", "metrics")

_AGENCY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_EVENT = re.compile(r"[a-z][a-z_]*")
_DAY: Final = 86_400
_DUPLICATE_WINDOW_S: Final = 120


class EventRoute(NamedTuple):
    domain: str
    event: str


# Every payload that may travel in an Envelope, and where it is published.
EVENT_ROUTES: Final[Mapping[type[Message], EventRoute]] = MappingProxyType(
    {
        ChangeRecorded: EventRoute("delivery", "change"),
        DeploymentRecorded: EventRoute("delivery", "deployment"),
        IncidentRecorded: EventRoute("delivery", "incident"),
        DeliveryBatch: EventRoute("delivery", "batch"),
        DeploymentStarted: EventRoute("deploy", "started"),
        BatchCompleted: EventRoute("deploy", "batch_completed"),
        DeploymentFinished: EventRoute("deploy", "finished"),
        RolledBack: EventRoute("deploy", "rolled_back"),
        DeploymentTransitioned: EventRoute("deploy", "transitioned"),
        PolicyPublished: EventRoute("policy", "published"),
        PolicyViolation: EventRoute("policy", "violation"),
        BudgetThresholdCrossed: EventRoute("policy", "budget_threshold"),
        DecisionRecorded: EventRoute("decision", "recorded"),
        ApprovalRequested: EventRoute("approval", "requested"),
        ApprovalDecided: EventRoute("approval", "decided"),
        ApprovalEscalated: EventRoute("approval", "escalated"),
    }
)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A JetStream stream to declare (idempotently) at startup and in `k8s/`."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: int
    duplicate_window_s: int = _DUPLICATE_WINDOW_S


def _domain_stream(domain: str, max_age_s: int) -> StreamSpec:
    return StreamSpec(f"CORTEX_{domain.upper()}", (f"{PREFIX}.{domain}.>",), max_age_s)


# Services keep their own state in PostgreSQL; retention only has to cover consumer downtime
# and read-model rebuilds. High-volume domains (decisions, agent heartbeats, metrics) keep less.
_MAX_AGE_S: Final[Mapping[str, int]] = MappingProxyType(
    {
        "delivery": 30 * _DAY,
        "deploy": 30 * _DAY,
        "policy": 30 * _DAY,
        "decision": 7 * _DAY,
        "approval": 30 * _DAY,
        "agent": 1 * _DAY,
        "metrics": 1 * _DAY,
    }
)

DLQ_STREAM: Final = StreamSpec("CORTEX_DLQ", (f"{DLQ_PREFIX}.>",), 30 * _DAY)
STREAMS: Final[tuple[StreamSpec, ...]] = (
    *(_domain_stream(domain, _MAX_AGE_S[domain]) for domain in DOMAINS),
    DLQ_STREAM,
)


def validate_agency(agency: str) -> str:
    """Return `agency` if it is a slug usable as a subject token, else raise ValueError."""
    if not _AGENCY.fullmatch(agency):
        raise ValueError(
            f"invalid agency {agency!r}: expected a slug of 1-63 characters, lower-case "
            "letters, digits and '-', starting with a letter or digit"
        )
    return agency


def _validate_domain(domain: str) -> str:
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}: expected one of {', '.join(DOMAINS)}")
    return domain


def _validate_event(event: str) -> str:
    if not _EVENT.fullmatch(event):
        raise ValueError(
            f"invalid event name {event!r}: expected lower-case letters and '_', "
            "starting with a letter"
        )
    return event


def subject(domain: str, event: str, agency: str) -> str:
    """The subject `cortex.<domain>.<event>.<agency>`, with every token validated."""
    return f"{PREFIX}.{_validate_domain(domain)}.{_validate_event(event)}.{validate_agency(agency)}"


def subject_filter(domain: str, event: str | None = None, agency: str | None = None) -> str:
    """A consumer filter subject; an omitted event or agency matches any (`*`)."""
    event_token = "*" if event is None else _validate_event(event)
    agency_token = "*" if agency is None else validate_agency(agency)
    return f"{PREFIX}.{_validate_domain(domain)}.{event_token}.{agency_token}"


def subject_for(payload: Message, agency: str) -> str:
    """The subject a payload is published on for `agency`."""
    route = EVENT_ROUTES.get(type(payload))
    if route is None:
        raise UnknownEventType(payload.DESCRIPTOR.full_name)
    return subject(route.domain, route.event, agency)


def dlq_subject(original: str) -> str:
    """The dead-letter subject for a message that failed on `original`."""
    head, _, rest = original.partition(".")
    if head != PREFIX or not rest or rest.startswith("dlq."):
        raise ValueError(f"not a cortex event subject: {original!r}")
    return f"{DLQ_PREFIX}.{rest}"


def stream_for(subject_name: str) -> StreamSpec:
    """The declared stream that captures `subject_name`."""
    for stream in STREAMS:
        if any(_matches(pattern, subject_name) for pattern in stream.subjects):
            return stream
    raise LookupError(f"no stream captures subject {subject_name!r}")


def _matches(pattern: str, subject_name: str) -> bool:
    words, parts = subject_name.split("."), pattern.split(".")
    for index, part in enumerate(parts):
        if part == ">":
            return len(words) > index
        if index >= len(words) or part not in ("*", words[index]):
            return False
    return len(words) == len(parts)
