"""DoraSnapshot: everything the five metrics need, derived once from a set of facts.

Building a snapshot does the expensive, order-independent work (deduplication, commit
attribution, incident linking, failure and recovery detection) and keeps, per
``(service, environment)`` slice, time-sorted columns. Any window and trend bucket is then
answered by bisecting those columns (see :mod:`dora_metrics`). The intended use is one
snapshot per slice, rebuilt when one of its facts changes, and :func:`merge_snapshots` for
queries that span slices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from metrics_collector.domain.facts.model import (
    Change,
    Deployment,
    DeploymentStatus,
    DoraInputError,
    Incident,
    unique_changes_by_service,
    unique_deployments,
    unique_incidents,
)
from metrics_collector.domain.metrics.commits import (
    REACHED,
    TERMINAL,
    Deliveries,
    PreparedDeployment,
    SliceKey,
    attribute_commits,
    by_finish,
    deliver,
    index_changes,
    prepare_deployments,
    timeline,
)
from metrics_collector.domain.metrics.config import DEFAULT_CONFIG, DoraConfig
from metrics_collector.domain.metrics.failures import (
    Failure,
    Linker,
    PreparedIncident,
    find_failures,
    prepare_incidents,
)
from metrics_collector.domain.metrics.stats import Floats

_T = TypeVar("_T")


class DeploymentOutcome(NamedTuple):
    """What a finished deployment means for the metrics. Times are UTC epoch seconds."""

    deployment_id: str
    status: DeploymentStatus  # effective status (rolled back if a successful rollback names it)
    at: float  # finish, or start when the finish is unknown
    reached: bool  # counted by deployment frequency (succeeded or rolled back)
    failed: bool  # a change failure: failed, rolled back, or an incident is linked to it
    unplanned: bool  # rework: hotfix/unplanned label, fixes an incident, or a rollback
    commit_count: int
    incident_ids: tuple[str, ...] = ()
    detected_at: float | None = None
    recovered_at: float | None = None

    @property
    def recovery_s(self) -> float | None:
        if self.detected_at is None or self.recovered_at is None:
            return None
        return self.recovered_at - self.detected_at


class LeadTime(NamedTuple):
    commit_sha: str
    deployment_id: str
    at: float  # finish of the first successful deployment that shipped the commit
    seconds: float  # negative: the commit is dated after that deployment (an anomaly)


Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Columns:
    """A slice's snapshot as read-only numpy columns, for queries over many slices.

    An org-wide query over 90 days gathers ~250,000 deployments and ~1,250,000 lead times from
    200 slices; in numpy the window cut, concatenation, sort and counts run in C, where a loop
    over Python tuples took most of half a second. Built once per snapshot (a slice rebuild).
    """

    outcome_at: Floats
    reached: Flags
    failed: Flags
    unplanned: Flags
    recovery_s: Floats  # NaN: not a failure, or not recovered yet
    lead_at: Floats
    lead_s: Floats
    incident_at: Floats
    incident_linked: Flags
    incident_before_deployment: Flags

    @classmethod
    def of(
        cls,
        outcomes: tuple[DeploymentOutcome, ...],
        lead_at: tuple[float, ...],
        lead_s: tuple[float, ...],
        incident_at: tuple[float, ...],
        incident_linked: tuple[bool, ...],
        incident_before_deployment: tuple[bool, ...],
    ) -> Columns:
        n = len(outcomes)
        nan = float("nan")

        def floats(values: Iterable[float], count: int) -> Floats:
            return _frozen(np.fromiter(values, np.float64, count))

        def flags(values: Iterable[bool], count: int) -> Flags:
            return _frozen(np.fromiter(values, np.bool_, count))

        return cls(
            outcome_at=floats((o.at for o in outcomes), n),
            reached=flags((o.reached for o in outcomes), n),
            failed=flags((o.failed for o in outcomes), n),
            unplanned=flags((o.unplanned for o in outcomes), n),
            recovery_s=floats((nan if (r := o.recovery_s) is None else r for o in outcomes), n),
            lead_at=floats(lead_at, len(lead_at)),
            lead_s=floats(lead_s, len(lead_s)),
            incident_at=floats(incident_at, len(incident_at)),
            incident_linked=flags(incident_linked, len(incident_linked)),
            incident_before_deployment=flags(
                incident_before_deployment, len(incident_before_deployment)
            ),
        )


_A = TypeVar("_A", bound=np.ndarray)


def _frozen(array: _A) -> _A:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True)
class SliceSnapshot:
    """Derived facts of one ``(service, environment)``; all columns sorted by time.

    ``columns`` holds the same data as numpy arrays (derived, so left out of equality).
    """

    service: str
    environment: str
    outcomes: tuple[DeploymentOutcome, ...]  # finished deployments, by (at, id)
    outcome_at: tuple[float, ...]
    lead_at: tuple[float, ...]
    lead_s: tuple[float, ...]
    lead_commits: tuple[str, ...]
    lead_deployments: tuple[str, ...]
    incident_at: tuple[float, ...]  # opened, sorted
    incident_linked: tuple[bool, ...]
    # The incident names a deployment that finished after it opened (left unlinked).
    incident_before_deployment: tuple[bool, ...]
    columns: Columns = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        columns = Columns.of(
            self.outcomes,
            self.lead_at,
            self.lead_s,
            self.incident_at,
            self.incident_linked,
            self.incident_before_deployment,
        )
        object.__setattr__(self, "columns", columns)

    def lead_times(self) -> Iterator[LeadTime]:
        """One row per change shipped to this environment (e.g. for persistence)."""
        for row in zip(
            self.lead_commits, self.lead_deployments, self.lead_at, self.lead_s, strict=True
        ):
            yield LeadTime(*row)


@dataclass(frozen=True, slots=True)
class DoraSnapshot:
    slices: Mapping[SliceKey, SliceSnapshot]
    config: DoraConfig


def _is_unplanned(d: Deployment, labels: frozenset[str]) -> bool:
    if d.fixes_incident or d.rollback_of:
        return True
    return bool(d.labels) and not labels.isdisjoint([label.lower() for label in d.labels])


def _outcome(
    d: PreparedDeployment, at: float, failure: Failure | None, labels: frozenset[str]
) -> DeploymentOutcome:
    reached = d.status in REACHED
    unplanned = _is_unplanned(d.fact, labels)
    if failure is None:
        return DeploymentOutcome(d.id, d.status, at, reached, False, unplanned, d.commit_count)
    return DeploymentOutcome(
        d.id,
        d.status,
        at,
        reached,
        True,
        unplanned,
        d.commit_count,
        failure.incident_ids,
        failure.detected_at,
        failure.recovered_at,
    )


def _group(items: Iterable[_T], key: Callable[[_T], SliceKey]) -> dict[SliceKey, list[_T]]:
    groups: defaultdict[SliceKey, list[_T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


@dataclass(slots=True)
class _Derived:
    """The order-independent work of a build, before it is cut into slices."""

    deployments: dict[SliceKey, list[PreparedDeployment]]
    deliveries: dict[SliceKey, Deliveries]
    incidents: dict[SliceKey, list[PreparedIncident]]
    linked: dict[str, bool]
    before_deployment: frozenset[str]  # incidents naming a deployment finished after them
    failures: dict[str, Failure]
    config: DoraConfig

    def slice(self, key: SliceKey) -> SliceSnapshot:
        times, finished = timeline(self.deployments.get(key, ()), TERMINAL)
        lead = self.deliveries.get(key) or Deliveries()
        opened = sorted((i.opened, i.id) for i in self.incidents.get(key, ()))
        failures, labels = self.failures, self.config.unplanned_labels
        return SliceSnapshot(
            service=key[0],
            environment=key[1],
            outcomes=tuple(
                _outcome(d, at, failures.get(d.id), labels)
                for at, d in zip(times, finished, strict=True)
            ),
            outcome_at=tuple(times),
            lead_at=tuple(lead.at),
            lead_s=tuple(lead.seconds),
            lead_commits=tuple(lead.commits),
            lead_deployments=tuple(lead.deployments),
            incident_at=tuple(t for t, _ in opened),
            incident_linked=tuple(self.linked[i] for _, i in opened),
            incident_before_deployment=tuple(i in self.before_deployment for _, i in opened),
        )


def _derive(
    changes: Iterable[Change],
    deployments: Iterable[Deployment],
    incidents: Iterable[Incident],
    config: DoraConfig,
) -> _Derived:
    prepared = prepare_deployments(unique_deployments(deployments).values())
    by_slice = {k: by_finish(g) for k, g in _group(prepared, lambda d: d.key).items()}
    changes_by_service = index_changes(unique_changes_by_service(changes))
    lookback = config.first_deployment_lookback.total_seconds()
    deliveries = {}
    for key, group in by_slice.items():
        attribute_commits(group, changes_by_service.get(key[0]), lookback)
        deliveries[key] = deliver(group, changes_by_service.get(key[0]))
    incs = prepare_incidents(unique_incidents(incidents).values(), config)
    linker = Linker(by_slice, deliveries, config.linking)
    links = {i.id: linker.link(i) for i in incs}
    return _Derived(
        deployments=by_slice,
        deliveries=deliveries,
        incidents=_group(incs, lambda i: i.key),
        linked={i.id: bool(links[i.id]) for i in incs},
        before_deployment=frozenset(i.id for i in incs if linker.names_later_deployment(i)),
        failures=find_failures(by_slice, links, incs),
        config=config,
    )


def build_snapshot(
    changes: Iterable[Change],
    deployments: Iterable[Deployment],
    incidents: Iterable[Incident],
    config: DoraConfig = DEFAULT_CONFIG,
    *,
    slices: Collection[SliceKey] | None = None,
) -> DoraSnapshot:
    """Derive the metrics' inputs from sets of facts (duplicates and any order allowed).

    Pass a slice's deployments, its service's changes, its incidents and any incident whose
    ``caused_by_deployment`` names one of its deployments. ``slices`` keeps only those slices
    in the result (the other facts are still used for linking).
    """
    derived = _derive(changes, deployments, incidents, config)
    keys = sorted(set(derived.deployments) | set(derived.incidents))
    if slices is not None:
        scope = set(slices)
        keys = [k for k in keys if k in scope]
    return DoraSnapshot(MappingProxyType({k: derived.slice(k) for k in keys}), config)


def merge_snapshots(snapshots: Iterable[DoraSnapshot]) -> DoraSnapshot:
    """One snapshot over disjoint slices (e.g. every slice of an agency, built separately)."""
    merged: dict[SliceKey, SliceSnapshot] = {}
    config: DoraConfig | None = None
    for snapshot in snapshots:
        if config is not None and snapshot.config != config:
            raise DoraInputError("cannot merge snapshots built with different configs")
        config = snapshot.config
        for key, piece in snapshot.slices.items():
            if key in merged:
                raise DoraInputError(f"slice {key} is in more than one snapshot")
            merged[key] = piece
    return DoraSnapshot(MappingProxyType(dict(sorted(merged.items()))), config or DEFAULT_CONFIG)
