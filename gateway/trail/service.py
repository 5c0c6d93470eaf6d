"""One trail from any id of the chain: find what the id is (every service asked at once), follow
the links each answer names, and put the answers together as they were returned."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.domain import trail as rules
from gateway.domain.trail import Answer, Element, FoundAs
from gateway.trail.errors import TrailNotFound, TrailUnavailable
from gateway.trail.reads import COLLECTOR, ENGINE, ORCHESTRATOR, WORKFLOW, Reader
from gateway.trail.schemas import DoraOut, ElementOut, ImpactOut, LinksOut, TrailOut


@dataclass
class _Chain:
    """What is known of the chain so far."""

    found_as: FoundAs
    run_id: str | None = None
    run: Answer | None = None
    approval_id: str | None = None
    approval: Answer | None = None
    decision_id: str | None = None
    decision: Answer | None = None
    """An agent action's decision (the policy engine's); a run's is in its record."""
    incident: Mapping[str, Any] | None = None


async def _identify(reader: Reader, trail_id: str) -> _Chain:
    run, before, approval, decision, incident = await asyncio.gather(
        reader.run(trail_id),
        reader.runs_before(trail_id),
        reader.approval(trail_id),
        reader.decision(trail_id),
        reader.fact("incident", trail_id),
    )
    if run.ok:
        return _Chain("deployment", run_id=trail_id, run=run)
    minted = rules.run_matching(before.body, trail_id) if before.ok else None
    if minted is not None:
        decision_id = (minted.get("decision") or {}).get("id")
        kind: FoundAs = "decision" if decision_id == trail_id else "approval"
        return _Chain(kind, run_id=str(minted["id"]), approval=approval if approval.ok else None)
    if approval.ok:
        return _Chain("approval", approval_id=trail_id, approval=approval)
    if decision.ok:
        return _Chain("decision", decision_id=trail_id, decision=decision)
    if incident.ok:
        return _Chain(
            "incident", run_id=rules.incident_cause(incident.body), incident=incident.body
        )
    raise _not_found(trail_id, run, approval, decision, incident)


def _not_found(trail_id: str, *answers: Answer) -> TrailNotFound | TrailUnavailable:
    services = (ORCHESTRATOR, WORKFLOW, ENGINE, COLLECTOR)
    down = [name for name, a in zip(services, answers, strict=True) if a.unavailable]
    if len(down) == len(services):
        return TrailUnavailable(
            "None of the services an id could belong to answered.",
            remediation="Retry shortly; check `GET /readyz` of the services.",
            extra={"unavailable": down},
        )
    detail = f"No deployment, approval, decision or incident {trail_id!r} in this agency"
    if down:
        detail += f" among the services that answered ({', '.join(down)} did not)"
    return TrailNotFound(
        detail + ".",
        remediation="Use an id a deployment, an approval or a decision of your agency answered "
        "with; retry if a service did not answer.",
        extra={"unavailable": down},
    )


async def _follow_subject(reader: Reader, chain: _Chain) -> None:
    """An approval's subject: a run (its record leads on) or an agent action's decision."""
    assert chain.approval is not None
    subject = rules.approval_subject(chain.approval.body)
    if subject is None:
        return
    kind, subject_id = subject
    if kind == "deployment":
        chain.run_id = subject_id
    elif kind == "decision":
        chain.decision_id = subject_id
        chain.decision = await reader.decision(subject_id)


async def _follow_decision(reader: Reader, chain: _Chain) -> None:
    """An agent action's decision: the approval asked for it, if any."""
    assert chain.decision_id is not None
    page = await reader.approvals_of("decision", chain.decision_id)
    items = page.body.get("items") if page.ok else None
    if items:
        chain.approval_id = str(items[0]["id"])
        chain.approval = await reader.approval(chain.approval_id)
    elif not page.ok:
        chain.approval = page


def _run_element(chain: _Chain) -> Element:
    if chain.run_id is None:
        why = "the incident names no deployment" if chain.found_as == "incident" else None
        return Element("none", reason=why)
    assert chain.run is not None
    return rules.element(chain.run, f"GET /v1/deployments/{chain.run_id}", what="the run")


def _decision_element(chain: _Chain, run: Element) -> Element:
    if chain.run_id is not None:
        source = f"GET /v1/deployments/{chain.run_id}#/decision"
        if run.value is not None and isinstance(run.value.get("decision"), dict):
            return Element("found", source, run.value["decision"])
        return replace(run, source=source, reason=f"in the run's record: {run.reason}")
    if chain.decision is None or chain.decision_id is None:
        return rules.NONE
    return rules.element(
        chain.decision, f"GET /v1/decisions/{chain.decision_id}", what="the decision"
    )


def _approval_element(chain: _Chain) -> Element:
    if chain.approval_id is None:
        if chain.approval is not None:  # the search for an agent action's approval failed
            source = f"GET /v1/approvals?subject_kind=decision&subject_id={chain.decision_id}"
            return rules.element(chain.approval, source, what="the approvals of the decision")
        return rules.NONE
    if chain.approval is None:
        return rules.Element("missing", reason="not looked for")
    return rules.element(
        chain.approval, f"GET /v1/approvals/{chain.approval_id}", what="the approval"
    )


@dataclass(frozen=True, slots=True)
class _Facts:
    deployment: Element
    rollback: Element
    incidents: list[Element]
    incidents_reason: str | None


async def _dora(reader: Reader, run_id: str, *, rolled_back: bool) -> _Facts:
    own, back, page = await asyncio.gather(
        reader.fact("deployment", run_id),
        reader.fact("deployment", f"{run_id}:rollback"),
        reader.incidents(),
    )
    source = "GET /v1/events/deployment/{}"
    incidents = [
        Element("found", f"GET /v1/events/incident/{i['event_id']}", i)
        for i in rules.incidents_of(page.body, run_id)
    ]
    reason = None if page.ok else (page.reason or f"HTTP {page.status}")
    rollback = rules.element(back, source.format(f"{run_id}:rollback"), what="no rollback fact")
    if rollback.state == "missing" and not rolled_back:  # rolled back: its fact is on its way
        rollback = Element("none", rollback.source, reason="no rollback of it is recorded")
    return _Facts(
        rules.element(own, source.format(run_id), what="the deployment fact"),
        rollback,
        incidents,
        reason,
    )


async def _follow_run(reader: Reader, chain: _Chain) -> _Facts:
    assert chain.run_id is not None
    if chain.run is None:
        chain.run = await reader.run(chain.run_id)
    record: dict[str, Any] = chain.run.body if chain.run.ok else {}
    approval = record.get("approval")
    if isinstance(approval, dict) and approval.get("id"):
        chain.approval_id = str(approval["id"])
    elif chain.approval is not None and chain.found_as == "approval":
        chain.approval_id = str(chain.approval.body.get("id"))
    fetch_approval = chain.approval_id is not None and chain.approval is None
    facts, fetched = await asyncio.gather(
        _dora(reader, chain.run_id, rolled_back=record.get("status") == "rolled_back"),
        reader.approval(chain.approval_id or "") if fetch_approval else _nothing(),
    )
    if fetched is not None:
        chain.approval = fetched
    return facts


def _alone(chain: _Chain) -> _Facts | None:
    """An incident that names no deployment: the trail is the incident alone."""
    if chain.incident is None:
        return None
    source = f"GET /v1/events/incident/{chain.incident.get('event_id')}"
    return _Facts(rules.NONE, rules.NONE, [Element("found", source, chain.incident)], None)


async def _nothing() -> None:
    return None


def _out(element: Element) -> ElementOut:
    return ElementOut.model_validate(element)


def _links(chain: _Chain, decision: Element, facts: _Facts | None) -> LinksOut:
    decision_id = decision.value.get("id") if decision.value is not None else None
    return LinksOut(
        deployment_id=chain.run_id,
        decision_id=str(decision_id or chain.decision_id or "") or None,
        approval_id=chain.approval_id,
        incident_ids=[str(i.value["event_id"]) for i in facts.incidents if i.value]
        if facts
        else [],
    )


def _dora_out(facts: _Facts | None) -> DoraOut:
    if facts is None:
        return DoraOut(
            deployment=_out(rules.NONE),
            rollback=_out(rules.NONE),
            incidents=[],
            incidents_reason=None,
            impact=None,
        )
    impact = rules.dora_impact(
        facts.deployment.value,
        facts.rollback.value,
        [i.value for i in facts.incidents if i.value is not None],
    )
    return DoraOut(
        deployment=_out(facts.deployment),
        rollback=_out(facts.rollback),
        incidents=[_out(i) for i in facts.incidents],
        incidents_reason=facts.incidents_reason,
        impact=None if impact is None else ImpactOut.model_validate(impact),
    )


async def trail(reader: Reader, trail_id: str) -> TrailOut:
    """The linked record of the change ``trail_id`` belongs to (404 ``trail_not_found``)."""
    chain = await _identify(reader, trail_id)
    if chain.found_as == "approval" and chain.run_id is None:
        await _follow_subject(reader, chain)
    if chain.found_as == "decision" and chain.run_id is None:
        await _follow_decision(reader, chain)
    facts = await _follow_run(reader, chain) if chain.run_id is not None else _alone(chain)
    run = _run_element(chain)
    decision = _decision_element(chain, run)
    return TrailOut(
        id=trail_id,
        agency=reader.agency,
        found_as=chain.found_as,
        links=_links(chain, decision, facts),
        deployment=_out(run),
        decision=_out(decision),
        approval=_out(_approval_element(chain)),
        dora=_dora_out(facts),
    )
