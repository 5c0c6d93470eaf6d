"""Refuse an incident whose named cause finished after the incident opened, when knowable.

The gateway reads no service table, so for causes not in the batch itself it asks the
metrics-collector (``POST /v1/events/deployment-finishes``). The check is best effort: when the
collector cannot answer, or has not stored the deployment yet, the events are accepted and the
collector leaves the link out and counts it (``change_failure_rate.anomalies``), so ingest never
depends on the collector being up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from cortex_kit.errors import UpstreamUnavailable
from cortex_kit.logs import get_logger
from gateway.errors import IncidentBeforeDeployment
from gateway.events.schemas import ChangeEvent, DeploymentEvent, IncidentEvent
from gateway.upstream import Upstreams

log = get_logger("gateway.events")
COLLECTOR = "metrics_collector"
_TERMINAL = frozenset({"succeeded", "failed", "rolled_back"})

Event = ChangeEvent | DeploymentEvent | IncidentEvent


def _placed_at(d: DeploymentEvent) -> datetime | None:
    # The collector's rule (domain.dora_commits.placed_at), applied to one report.
    return (d.finished_at or d.started_at) if d.status in _TERMINAL else None


def in_batch_finishes(events: Sequence[Event]) -> dict[str, datetime]:
    """The finish each deployment of the batch reports (the caller's latest word on it)."""
    return {
        e.id: at
        for e in events
        if isinstance(e, DeploymentEvent) and (at := _placed_at(e)) is not None
    }


def first_contradiction(
    events: Sequence[Event], finishes: Mapping[str, datetime]
) -> IncidentBeforeDeployment | None:
    for k, e in enumerate(events):
        if not isinstance(e, IncidentEvent) or not e.caused_by_deployment:
            continue
        finished = finishes.get(e.caused_by_deployment)
        if finished is None or finished <= e.opened_at:
            continue
        field = f"events[{k}].caused_by_deployment"
        return IncidentBeforeDeployment(
            f"{field}: incident {e.id!r} opened at {e.opened_at.isoformat()}, before deployment "
            f"{e.caused_by_deployment!r} finished ({finished.isoformat()}), so that deployment "
            "cannot have caused it.",
            remediation=(
                "Name the deployment that was live when the incident opened, or send "
                "caused_by_deployment empty to let the agency's linking strategy choose; if "
                "opened_at is wrong, correct it."
            ),
            extra={
                "field": field,
                "deployment_id": e.caused_by_deployment,
                "deployment_finished_at": finished.isoformat(),
            },
        )
    return None


async def _stored_finishes(
    upstreams: Upstreams, agency: str, principal: str, ids: list[str], request_id: str | None
) -> dict[str, datetime]:
    try:
        resp = await upstreams.forward(
            COLLECTOR,
            "POST",
            "/v1/events/deployment-finishes",
            agency=agency,
            principal=principal,
            json={"deployment_ids": ids},
            request_id=request_id,
        )
    except UpstreamUnavailable:
        log.warning("events.cause_check_skipped", agency=agency, reason="collector_unavailable")
        return {}
    if resp.status_code != 200:
        log.warning("events.cause_check_skipped", agency=agency, status=resp.status_code)
        return {}
    found = json.loads(bytes(resp.body))["deployments"]
    return {d["deployment_id"]: datetime.fromisoformat(d["finished_at"]) for d in found}


async def check_incident_causes(
    upstreams: Upstreams,
    agency: str,
    principal: str,
    events: Sequence[Event],
    request_id: str | None = None,
) -> None:
    """Raise :class:`IncidentBeforeDeployment` for the first incident whose named deployment,
    as the batch or the collector knows it, finished after the incident opened."""
    named = {e.caused_by_deployment for e in events if isinstance(e, IncidentEvent)} - {""}
    if not named:
        return
    finishes = in_batch_finishes(events)
    unknown = sorted(named - finishes.keys())
    if unknown:
        stored = await _stored_finishes(upstreams, agency, principal, unknown, request_id)
        finishes = {**stored, **finishes}
    if (refusal := first_contradiction(events, finishes)) is not None:
        raise refusal
