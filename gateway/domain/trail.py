"""The trail of one change, as pure rules: what each service's answer means for an element of
the linked record, the links an answer names, and the DORA impact the facts add up to
(docs/api.md "Trail"). No I/O: the gateway's ``trail`` package asks the services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

ElementState = Literal["found", "none", "missing", "unavailable"]
"""``found``: ``value`` is the service's answer as returned; ``none``: nothing is linked;
``missing``: a link names it, the service does not (yet) know it; ``unavailable``: the service
did not answer (``reason`` says how)."""

FoundAs = Literal["deployment", "approval", "decision", "incident"]
FAILED_STATUSES = frozenset({"failed", "rolled_back"})
"""The run statuses a postmortem is written for."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a service answered to one read: its status and JSON body, or why it did not."""

    status: int | None
    body: Any = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.body, dict)

    @property
    def unavailable(self) -> bool:
        return self.status is None or self.status >= 500


@dataclass(frozen=True, slots=True)
class Element:
    state: ElementState
    source: str | None = None
    """The public route whose answer ``value`` is (``GET /v1/deployments/{id}``)."""
    value: Mapping[str, Any] | None = None
    reason: str | None = None


NONE = Element("none")


def element(answer: Answer, source: str, *, what: str) -> Element:
    """The element one read makes: found, missing (404 and other refusals) or unavailable."""
    if answer.ok:
        return Element("found", source, answer.body)
    if answer.unavailable:
        return Element("unavailable", source, reason=answer.reason or f"HTTP {answer.status}")
    code = answer.body.get("code") if isinstance(answer.body, dict) else None
    return Element("missing", source, reason=f"{what}: HTTP {answer.status} {code or ''}".strip())


def unavailable_for(source: str | None, reason: str) -> Element:
    return Element("unavailable", source, reason=reason)


def run_matching(page: Any, trail_id: str) -> Mapping[str, Any] | None:
    """The run of a ``GET /v1/deployments`` page whose decision or approval is ``trail_id``."""
    items = page.get("items") if isinstance(page, dict) else None
    for run in items or ():
        if not isinstance(run, dict):
            continue
        decision = run.get("decision") or {}
        approval = run.get("approval") or {}
        if trail_id in (decision.get("id"), approval.get("id")):
            return run
    return None


def approval_subject(approval: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(kind, id)`` of what an approval request is about."""
    subject = approval.get("subject")
    if not isinstance(subject, dict) or not subject.get("id"):
        return None
    return str(subject.get("kind", "")), str(subject["id"])


def incident_cause(incident: Mapping[str, Any]) -> str | None:
    """The deployment an incident names as its cause (``caused_by_deployment``)."""
    facts = incident.get("facts")
    cause = facts.get("caused_by_deployment") if isinstance(facts, dict) else None
    return str(cause) if cause else None


def incidents_of(page: Any, deployment_id: str) -> list[Mapping[str, Any]]:
    """The incidents of a ``GET /v1/events?kind=incident`` page that name the deployment."""
    items = page.get("items") if isinstance(page, dict) else None
    return [
        item
        for item in items or ()
        if isinstance(item, dict) and incident_cause(item) == deployment_id
    ]


@dataclass(frozen=True, slots=True)
class DoraImpact:
    """What the deployment's facts mean for DORA, by docs/metrics.md's rules (change failure
    rate, failed deployment recovery time): whether it counts as failed and why, when the
    failure was detected and when it recovered."""

    counted_as_failed: bool
    failed_because: tuple[str, ...]
    detected_at: datetime | None
    recovered_at: datetime | None
    recovery_s: float | None


def _at(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _facts(fact: Mapping[str, Any] | None) -> Mapping[str, Any]:
    found = fact.get("facts") if fact is not None else None
    return found if isinstance(found, dict) else {}


def _detection(
    deployment: Mapping[str, Any],
    rollback: Mapping[str, Any],
    incidents: Sequence[Mapping[str, Any]],
) -> datetime | None:
    evidence = [_at(i.get("opened_at")) for i in incidents]
    if rollback:
        evidence.append(_at(rollback.get("started_at")))
    if deployment.get("status") == "failed":
        evidence.append(_at(deployment.get("finished_at")))
    found = [at for at in evidence if at is not None]
    if found:
        return min(found)
    return _at(deployment.get("finished_at")) if deployment.get("status") == "rolled_back" else None


def _recovery(
    rollback: Mapping[str, Any], incidents: Sequence[Mapping[str, Any]], detected: datetime
) -> datetime | None:
    signals: list[datetime | None] = []
    if rollback.get("status") == "succeeded":
        signals.append(_at(rollback.get("finished_at")))
    resolved = [_at(i.get("resolved_at")) for i in incidents]
    if incidents and all(resolved) and not any(i.get("reopened_at") for i in incidents):
        signals.append(max(at for at in resolved if at is not None))
    after = [at for at in signals if at is not None and at >= detected]
    return min(after) if after else None


def dora_impact(
    deployment: Mapping[str, Any] | None,
    rollback: Mapping[str, Any] | None,
    incidents: Sequence[Mapping[str, Any]],
) -> DoraImpact | None:
    """The impact of the stored facts (``GET /v1/events/...`` answers); None without the
    deployment's fact. A roll forward (the next successful deployment) is not looked for:
    the metrics may show an earlier recovery for a run that failed by its own status."""
    if deployment is None:
        return None
    own, back = _facts(deployment), _facts(rollback)
    incident_facts = [_facts(i) for i in incidents]
    because = []
    if own.get("status") in FAILED_STATUSES:
        because.append(f"its status is {own['status']}")
    if back.get("status") == "succeeded" and back.get("rollback_of"):
        because.append(f"rolled back by deployment {rollback.get('event_id') if rollback else ''}")
    because += [f"incident {i.get('event_id')} names it as its cause" for i in incidents]
    if not because:
        return DoraImpact(False, (), None, None, None)
    detected = _detection(own, back, incident_facts)
    recovered = _recovery(back, incident_facts, detected) if detected else None
    seconds = (recovered - detected).total_seconds() if detected and recovered else None
    return DoraImpact(True, tuple(because), detected, recovered, seconds)
