"""One agency's merged facts in memory, indexed so that one slice can be rebuilt alone (pure).

A slice's snapshot depends on more than its own facts (``build_snapshot``'s contract): an
incident of another slice may name one of its deployments (``caused_by_deployment``), one of
its incidents may name a deployment elsewhere, a rollback or a fixing deployment may live in
another slice. :meth:`FactIndex.inputs` gathers exactly those facts, so that building one slice
gives what building every fact at once gives for it, and :meth:`FactIndex.put` answers which
slices a changed fact touches, so that only those are rebuilt.

Facts are keyed as they are stored: ``(kind, event_id)``, where a deployment's event id is its
``deployment_id`` and an incident's its ``incident_id`` (``facts.to_fact`` makes them so).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from metrics_collector.domain.facts.model import Change, Deployment, Fact, Incident
from metrics_collector.domain.metrics.commits import SliceKey
from metrics_collector.domain.metrics.config import DEFAULT_CONFIG, DoraConfig
from metrics_collector.domain.metrics.snapshot import SliceSnapshot, build_snapshot

SliceInputs = tuple[list[Change], list[Deployment], list[Incident]]


class FactIndex:
    def __init__(self, config: DoraConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        self._changes: defaultdict[str, dict[str, Change]] = defaultdict(dict)  # by service
        self._change_by_id: dict[str, Change] = {}
        self._deployments: defaultdict[SliceKey, dict[str, Deployment]] = defaultdict(dict)
        self._incidents: defaultdict[SliceKey, dict[str, Incident]] = defaultdict(dict)
        self._deployment_slice: dict[str, SliceKey] = {}
        self._incident_slice: dict[str, SliceKey] = {}
        self._service_slices: defaultdict[str, set[SliceKey]] = defaultdict(set)
        # Cross-slice references, by the id they name.
        self._citing: defaultdict[str, set[str]] = defaultdict(set)  # deployment -> incidents
        self._rollbacks: defaultdict[str, set[str]] = defaultdict(set)  # deployment -> rollbacks
        self._fixes: defaultdict[str, set[str]] = defaultdict(set)  # incident -> deployments

    def __len__(self) -> int:
        return len(self._change_by_id) + len(self._deployment_slice) + len(self._incident_slice)

    # --- reading ------------------------------------------------------------------------

    def slices(self) -> set[SliceKey]:
        """Every slice with at least one deployment or incident."""
        return {k for k, v in self._deployments.items() if v} | {
            k for k, v in self._incidents.items() if v
        }

    def get(self, kind: str, event_id: str) -> Fact | None:
        if kind == "change":
            return self._change_by_id.get(event_id)
        if kind == "deployment":
            return self._deployment(event_id)
        return self._incident(event_id)

    def _deployment(self, deployment_id: str) -> Deployment | None:
        key = self._deployment_slice.get(deployment_id)
        return None if key is None else self._deployments[key][deployment_id]

    def _incident(self, incident_id: str) -> Incident | None:
        key = self._incident_slice.get(incident_id)
        return None if key is None else self._incidents[key][incident_id]

    def incident_slice(self, incident: Incident) -> SliceKey:
        return (incident.service, incident.environment or self.config.default_incident_environment)

    def inputs(self, key: SliceKey) -> SliceInputs:
        """What ``build_snapshot`` needs for slice ``key`` to come out as in a full build:
        its deployments, its service's changes, its incidents and the incidents naming its
        deployments; the deployments those incidents name or that fix them, rollbacks of its
        deployments; and rollbacks of any deployment so gathered (they change its status)."""
        deployments = dict(self._deployments.get(key, {}))
        incidents = dict(self._incidents.get(key, {}))
        for deployment_id in list(deployments):
            for incident_id in self._citing.get(deployment_id, ()):
                incidents.setdefault(incident_id, self._known_incident(incident_id))
        related = [r for d in deployments for r in self._rollbacks.get(d, ())]
        for incident in incidents.values():
            cited = incident.caused_by_deployment
            if cited and cited in self._deployment_slice:
                related.append(cited)
            related += self._fixes.get(incident.incident_id, ())
        for deployment_id in related:
            deployments.setdefault(deployment_id, self._known_deployment(deployment_id))
        for deployment_id in list(deployments):
            for rollback_id in self._rollbacks.get(deployment_id, ()):
                deployments.setdefault(rollback_id, self._known_deployment(rollback_id))
        changes = list(self._changes.get(key[0], {}).values())
        return changes, list(deployments.values()), list(incidents.values())

    def _known_deployment(self, deployment_id: str) -> Deployment:
        found = self._deployment(deployment_id)
        assert found is not None, deployment_id
        return found

    def _known_incident(self, incident_id: str) -> Incident:
        found = self._incident(incident_id)
        assert found is not None, incident_id
        return found

    def build(self, key: SliceKey) -> SliceSnapshot | None:
        """The snapshot of one slice; None when it has no deployment and no incident left."""
        changes, deployments, incidents = self.inputs(key)
        if not deployments and not incidents:
            return None
        snapshot = build_snapshot(changes, deployments, incidents, self.config, slices=[key])
        return snapshot.slices.get(key)

    # --- writing ------------------------------------------------------------------------

    def put(self, kind: str, event_id: str, fact: Fact | None) -> set[SliceKey]:
        """Store (or with None, forget) the merged fact of ``(kind, event_id)``; returns the
        slices whose snapshot may have changed."""
        old = self.get(kind, event_id)
        if old == fact:
            return set()
        touched: set[SliceKey] = set()
        if old is not None:
            touched |= self._touched_by(old)
            self._remove(old)
        if fact is not None:
            self._add(fact)
            touched |= self._touched_by(fact)
        return touched

    def put_all(self, facts: Iterable[tuple[str, str, Fact]]) -> set[SliceKey]:
        touched: set[SliceKey] = set()
        for kind, event_id, fact in facts:
            touched |= self.put(kind, event_id, fact)
        return touched

    def load(self, facts: Iterable[tuple[str, str, Fact]]) -> None:
        """Like :meth:`put_all` without working out touched slices (a first, bulk load)."""
        for kind, event_id, fact in facts:
            if self.get(kind, event_id) is None:
                self._add(fact)
            else:
                self.put(kind, event_id, fact)

    def _touched_by(self, fact: Fact) -> set[SliceKey]:
        if isinstance(fact, Change):
            return set(self._service_slices.get(fact.service, ()))
        if isinstance(fact, Deployment):
            return set(self._deployment_touches(fact))
        touched = {self.incident_slice(fact)}
        cited = fact.caused_by_deployment
        if cited and cited in self._deployment_slice:
            touched.add(self._deployment_slice[cited])
        return touched

    def _deployment_touches(
        self, d: Deployment, *, via_rollback: bool = True
    ) -> Iterator[SliceKey]:
        # Every slice whose inputs hold ``d`` (see ``inputs``); a rollback changes the status
        # of its target, so it touches every slice whose inputs hold the target as well.
        yield (d.service, d.environment)
        for incident_id in self._citing.get(d.deployment_id, ()):
            yield self._incident_slice[incident_id]
        target = self._deployment(d.rollback_of) if d.rollback_of else None
        if target is not None:
            yield (target.service, target.environment)
            if via_rollback:
                yield from self._deployment_touches(target, via_rollback=False)
        fixed = self._incident(d.fixes_incident) if d.fixes_incident else None
        if fixed is not None:
            yield self.incident_slice(fixed)
            cited = fixed.caused_by_deployment
            if cited and cited in self._deployment_slice:
                yield self._deployment_slice[cited]

    def _add(self, fact: Fact) -> None:
        if isinstance(fact, Change):
            self._change_by_id[fact.event_id] = fact
            self._changes[fact.service][fact.event_id] = fact
        elif isinstance(fact, Deployment):
            key = (fact.service, fact.environment)
            self._deployments[key][fact.deployment_id] = fact
            self._deployment_slice[fact.deployment_id] = key
            self._service_slices[fact.service].add(key)
            if fact.rollback_of:
                self._rollbacks[fact.rollback_of].add(fact.deployment_id)
            if fact.fixes_incident:
                self._fixes[fact.fixes_incident].add(fact.deployment_id)
        else:
            key = self.incident_slice(fact)
            self._incidents[key][fact.incident_id] = fact
            self._incident_slice[fact.incident_id] = key
            self._service_slices[fact.service].add(key)
            if fact.caused_by_deployment:
                self._citing[fact.caused_by_deployment].add(fact.incident_id)

    def _remove(self, fact: Fact) -> None:
        if isinstance(fact, Change):
            del self._change_by_id[fact.event_id]
            del self._changes[fact.service][fact.event_id]
        elif isinstance(fact, Deployment):
            del self._deployments[(fact.service, fact.environment)][fact.deployment_id]
            del self._deployment_slice[fact.deployment_id]
            if fact.rollback_of:
                self._rollbacks[fact.rollback_of].discard(fact.deployment_id)
            if fact.fixes_incident:
                self._fixes[fact.fixes_incident].discard(fact.deployment_id)
        else:
            del self._incidents[self.incident_slice(fact)][fact.incident_id]
            del self._incident_slice[fact.incident_id]
            if fact.caused_by_deployment:
                self._citing[fact.caused_by_deployment].discard(fact.incident_id)
