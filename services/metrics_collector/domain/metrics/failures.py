"""Which deployments failed, when the failure was detected and when it was recovered from."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from metrics_collector.domain.facts.model import DeploymentStatus, Incident
from metrics_collector.domain.metrics.commits import (
    REACHED,
    SUCCEEDED,
    Deliveries,
    PreparedDeployment,
    SliceKey,
    timeline,
)
from metrics_collector.domain.metrics.config import DoraConfig, LinkingConfig, LinkStrategy

FAILED_BY_STATUS = frozenset({DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK})


@dataclass(slots=True, eq=False)
class PreparedIncident:
    fact: Incident
    key: SliceKey
    opened: float
    resolved: float | None

    @property
    def id(self) -> str:
        return self.fact.incident_id


class Failure(NamedTuple):
    incident_ids: tuple[str, ...]
    detected_at: float
    recovered_at: float | None


def prepare_incidents(incidents: Iterable[Incident], config: DoraConfig) -> list[PreparedIncident]:
    default_env = config.default_incident_environment
    return [
        PreparedIncident(i, (i.service, i.environment or default_env), i.opened_ts, i.resolved_ts)
        for i in incidents
        if i.severity.lower() not in config.ignored_severities
    ]


class Linker:
    """Finds the deployments an incident is attributed to, per :class:`LinkStrategy`."""

    def __init__(
        self,
        by_slice: Mapping[SliceKey, list[PreparedDeployment]],
        deliveries: Mapping[SliceKey, Deliveries],
        config: LinkingConfig,
    ) -> None:
        self._by_id = {d.id: d for group in by_slice.values() for d in group}
        self._deliveries = deliveries
        self._config = config
        self._reached: dict[SliceKey, tuple[list[float], list[PreparedDeployment]]] = {}
        for key, group in by_slice.items():
            self._reached[key] = timeline(group, REACHED)

    def names_later_deployment(self, incident: PreparedIncident) -> bool:
        """The incident's ``caused_by_deployment`` names a known deployment that finished
        after the incident opened: it cannot have caused it (an anomaly of the data)."""
        cited = incident.fact.caused_by_deployment
        d = self._by_id.get(cited) if cited else None
        return d is not None and d.at is not None and d.at > incident.opened

    def link(self, incident: PreparedIncident) -> tuple[PreparedDeployment, ...]:
        strategy = self._config.strategy
        uses_explicit = strategy is LinkStrategy.EXPLICIT or self._config.explicit_first
        if uses_explicit and self.names_later_deployment(incident):
            # The sender named a cause the timeline rules out; blaming another deployment by
            # heuristic would contradict what it said, so the incident stays unlinked. (The
            # heuristics never pick a deployment finished after the opening either.)
            return ()
        explicit = self._explicit(incident)
        if strategy is LinkStrategy.EXPLICIT or (explicit and self._config.explicit_first):
            return explicit
        times, deployments = self._reached.get(incident.key, ([], []))
        end = bisect_right(times, incident.opened)
        if strategy is LinkStrategy.LATEST_BEFORE:
            if end and incident.opened - times[end - 1] <= self._config.max_age.total_seconds():
                return (deployments[end - 1],)
            return ()
        start = bisect_left(times, incident.opened - self._config.window.total_seconds())
        return tuple(deployments[start:end])

    def _explicit(self, incident: PreparedIncident) -> tuple[PreparedDeployment, ...]:
        fact = incident.fact
        if fact.caused_by_deployment and (d := self._by_id.get(fact.caused_by_deployment)):
            return (d,)
        if fact.caused_by_commit:
            deliveries = self._deliveries.get(incident.key)
            shipped = deliveries.first_shipped(fact.caused_by_commit) if deliveries else None
            if shipped is not None:
                return (shipped,)
        return ()


@dataclass(slots=True)
class _Evidence:
    """Failure and recovery signals, indexed by the deployment or incident they are about."""

    incidents_of: defaultdict[str, list[PreparedIncident]]
    rollback_started: defaultdict[str, list[float]]  # deployment id -> rollbacks of it
    rollback_succeeded: defaultdict[str, list[float]]  # ... their finish, when successful
    fix_succeeded: defaultdict[str, list[float]]  # incident id -> successful fixing deployments
    succeeded_at: dict[SliceKey, list[float]]


def _evidence(
    by_slice: Mapping[SliceKey, list[PreparedDeployment]],
    links: Mapping[str, tuple[PreparedDeployment, ...]],
    incidents: list[PreparedIncident],
) -> _Evidence:
    ev = _Evidence(defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list), {})
    for incident in incidents:
        for d in links.get(incident.id, ()):
            ev.incidents_of[d.id].append(incident)
    for key, group in by_slice.items():
        ev.succeeded_at[key] = timeline(group, SUCCEEDED)[0]
        for d in group:
            target, fixes = d.fact.rollback_of, d.fact.fixes_incident
            if not (target or fixes):
                continue
            done = d.at if d.status is DeploymentStatus.SUCCEEDED else None
            if target:
                ev.rollback_started[target].append(d.started)
                if done is not None:
                    ev.rollback_succeeded[target].append(done)
            if fixes and done is not None:
                ev.fix_succeeded[fixes].append(done)
    return ev


def _detected(d: PreparedDeployment, at: float, ev: _Evidence) -> float:
    # The earliest evidence: an incident opened, a rollback started, the deployment failed.
    signals = [i.opened for i in ev.incidents_of.get(d.id, ())]
    signals += ev.rollback_started.get(d.id, ())
    if d.status is DeploymentStatus.FAILED:
        signals.append(at)
    return min(signals) if signals else at


def _recovered(d: PreparedDeployment, at: float, detected: float, ev: _Evidence) -> float | None:
    # The earliest recovery the data shows: a rollback of it finished, a deployment fixing one
    # of its incidents succeeded, all its incidents resolved, or (when the deployment itself
    # failed) the next successful deployment of the slice rolled forward.
    signals = list(ev.rollback_succeeded.get(d.id, ()))
    incidents = ev.incidents_of.get(d.id, [])
    for incident in incidents:
        signals += ev.fix_succeeded.get(incident.id, ())
    resolved = [i.resolved for i in incidents if i.resolved is not None]
    if incidents and len(resolved) == len(incidents):
        signals.append(max(resolved))
    if d.status in FAILED_BY_STATUS:
        times = ev.succeeded_at.get(d.key, [])
        k = max(bisect_right(times, at), bisect_left(times, detected))
        if k < len(times):
            signals.append(times[k])
    valid = [s for s in signals if s >= detected]
    return min(valid) if valid else None


def find_failures(
    by_slice: Mapping[SliceKey, list[PreparedDeployment]],
    links: Mapping[str, tuple[PreparedDeployment, ...]],
    incidents: list[PreparedIncident],
) -> dict[str, Failure]:
    """Failed deployments (status failed/rolled back, or an incident linked) by id.

    ``by_slice``: every slice's deployments sorted with ``by_finish``.
    """
    ev = _evidence(by_slice, links, incidents)
    failures = {}
    for group in by_slice.values():
        for d in group:
            at = d.at
            linked = ev.incidents_of.get(d.id)
            if at is None or not (linked or d.status in FAILED_BY_STATUS):
                continue
            detected = _detected(d, at, ev)
            failures[d.id] = Failure(
                tuple(sorted({i.id for i in linked or ()})),
                detected,
                _recovered(d, at, detected, ev),
            )
    return failures
