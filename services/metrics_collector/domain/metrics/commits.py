"""Which commits a deployment shipped, and when each change first reached an environment.

Times are epoch seconds (floats) from here on: the calculators compare and subtract them tens of
thousands of times per slice, and datetime arithmetic would dominate the cost.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from metrics_collector.domain.facts.model import Change, Deployment, DeploymentStatus

SliceKey = tuple[str, str]
"""``(service, environment)``: the unit every metric is computed for."""

# Statuses after which a deployment has a place in time (its finish).
TERMINAL = frozenset(
    {DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK}
)
# The deployment's code reached the environment (it may have been rolled back later).
REACHED = frozenset({DeploymentStatus.SUCCEEDED, DeploymentStatus.ROLLED_BACK})


@dataclass(slots=True, eq=False)
class PreparedDeployment:
    fact: Deployment
    id: str
    key: SliceKey
    # Effective status: a succeeded deployment that a successful rollback names is rolled back,
    # whether or not its own status update has arrived yet.
    status: DeploymentStatus
    started: float
    # Finish time, or the start when a finished deployment has no finish time; None while it
    # is in progress or when it was cancelled (neither is counted).
    at: float | None
    # Implicit commit set, when the fact lists none: ServiceChanges.shas[lo:hi]. An index
    # range instead of a list keeps attribution O(deployments) rather than O(changes).
    span: tuple[int, int] = (0, 0)
    # The commits a deployment names itself: its ``commit_shas``, or its head commit alone
    # when the pushes up to it are not known.
    named: tuple[str, ...] = ()

    @property
    def commit_count(self) -> int:
        return len(self.named) or self.span[1] - self.span[0]


@dataclass(slots=True)
class ServiceChanges:
    """A service's changes sorted by commit time (then sha, so the order is total)."""

    committed: list[float]
    shas: list[str]
    _position: dict[str, int] | None = None

    def commit_set(self, d: PreparedDeployment) -> Sequence[str]:
        return d.named or self.shas[d.span[0] : d.span[1]]

    def position(self, sha: str) -> int | None:
        """Index of the change ``sha`` in :attr:`shas`, or None when no push reported it."""
        if self._position is None:
            self._position = {s: i for i, s in enumerate(self.shas)}
        return self._position.get(sha)


_NO_CHANGES = ServiceChanges([], [])


@dataclass(slots=True)
class Deliveries:
    """Per change of a slice: the first successful deployment that shipped it, and when."""

    at: list[float] = field(default_factory=list)  # finish of that deployment, non-decreasing
    seconds: list[float] = field(default_factory=list)  # lead time; negative = anomaly
    commits: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    succeeded_at: list[float] = field(default_factory=list)
    succeeded: list[PreparedDeployment] = field(default_factory=list)
    changes: ServiceChanges = field(default_factory=lambda: _NO_CHANGES)
    _first: dict[str, PreparedDeployment] | None = None

    def first_shipped(self, sha: str) -> PreparedDeployment | None:
        """The first successful deployment whose commit set holds ``sha`` (with or without a
        change fact); built on first use, since only ``caused_by_commit`` links need it."""
        if self._first is None:
            first: dict[str, PreparedDeployment] = {}
            for d in self.succeeded:
                for s in self.changes.commit_set(d):
                    first.setdefault(s, d)
            self._first = first
        return self._first.get(sha)


def placed_at(d: Deployment) -> datetime | None:
    """Where the metrics place a deployment in time (as ``PreparedDeployment.at``): its finish,
    its start when it finished without a finish time; None while in progress or cancelled."""
    if d.status not in TERMINAL:
        return None
    return d.finished_at or d.started_at


def prepare_deployments(deployments: Iterable[Deployment]) -> list[PreparedDeployment]:
    facts = list(deployments)
    rolled_back = {
        d.rollback_of
        for d in facts
        if d.rollback_of
        and d.status is DeploymentStatus.SUCCEEDED
        and d.rollback_of != d.deployment_id
    }
    prepared = []
    for d in facts:
        status = d.status
        if status is DeploymentStatus.SUCCEEDED and d.deployment_id in rolled_back:
            status = DeploymentStatus.ROLLED_BACK
        started = d.started_ts
        at = None
        if status in TERMINAL:
            at = d.finished_ts if d.finished_ts is not None else started
        key = (d.service, d.environment)
        prepared.append(
            PreparedDeployment(d, d.deployment_id, key, status, started, at, named=d.commit_shas)
        )
    return prepared


def index_changes(changes_by_service: Mapping[str, list[Change]]) -> dict[str, ServiceChanges]:
    """Each service's (unique) changes sorted by (commit time, sha)."""
    index = {}
    for service, group in changes_by_service.items():
        # Sorting by sha, then (stably) by a float key, orders by (time, sha) without building
        # a tuple per change; float keys sort several times faster than tuples.
        group = sorted(group, key=attrgetter("commit_sha"))
        times = [c.committed_ts for c in group]
        order = sorted(range(len(group)), key=times.__getitem__)
        index[service] = ServiceChanges(
            [times[k] for k in order], [group[k].commit_sha for k in order]
        )
    return index


def attribute_commits(
    deployments: list[PreparedDeployment], changes: ServiceChanges | None, lookback_s: float
) -> None:
    """Set the commit set of every deployment of one slice that lists no commits.

    Up to its head commit when it names one that a push reported, else up to its start: the
    service's changes after those the previous successful forward deployment of the slice
    shipped (with no such deployment, from ``lookback_s`` before its start). A head no push
    reported is the commit set alone. A rollback ships old code and a deployment that says it
    ships no commits ships none: neither gets commits, nor is the "previous" deployment.
    """
    floor: int | None = None  # index past the changes already shipped
    shas = changes or _NO_CHANGES
    committed = shas.committed
    # (start, id) order by two stable sorts on plain keys, cheaper than tuple keys
    by_start = sorted(deployments, key=attrgetter("id"))
    by_start.sort(key=attrgetter("started"))
    for d in by_start:
        fact = d.fact
        if fact.commit_shas or fact.rollback_of or fact.ships_no_commits:
            continue
        low = floor if floor is not None else bisect_right(committed, d.started - lookback_s)
        head = shas.position(fact.head_commit) if fact.head_commit else None
        if fact.head_commit and head is None:
            d.named = (fact.head_commit,)
            continue
        high = head + 1 if head is not None else bisect_right(committed, d.started, lo=low)
        d.span = (low, max(low, high))
        if d.status is DeploymentStatus.SUCCEEDED:
            floor = max(low, high)


def by_finish(deployments: Iterable[PreparedDeployment]) -> list[PreparedDeployment]:
    """Sorted by finish time (ties by id); in-progress and cancelled ones last."""
    return sorted(deployments, key=lambda d: (d.at is None, d.at or 0.0, d.id))


def timeline(
    deployments: Iterable[PreparedDeployment], statuses: frozenset[DeploymentStatus]
) -> tuple[list[float], list[PreparedDeployment]]:
    """Finish times and deployments with one of ``statuses``, as two aligned columns (no
    tuple per deployment: fewer objects for the garbage collector to track). Keeps the input
    order, so pass deployments sorted with :func:`by_finish`."""
    chosen = [d for d in deployments if d.status in statuses and d.at is not None]
    return [d.at or 0.0 for d in chosen], chosen  # `or 0.0` only narrows the type: at is set


SUCCEEDED = frozenset({DeploymentStatus.SUCCEEDED})


def _deliver_spans(out: Deliveries) -> None:
    # Only implicit sets: the spans of successful forward deployments are disjoint by
    # construction (each starts where the previous one ended), so no change is seen twice.
    committed, shas = out.changes.committed, out.changes.shas
    for at, d in zip(out.succeeded_at, out.succeeded, strict=True):
        lo, hi = d.span
        if hi > lo:
            out.at += [at] * (hi - lo)
            out.seconds += [at - c for c in committed[lo:hi]]
            out.commits += shas[lo:hi]
            out.deployments += [d.id] * (hi - lo)


def _deliver_any(out: Deliveries) -> None:
    # A plain loop: with a handful of commits per deployment, per-deployment comprehensions
    # cost more than they save.
    committed_by_sha = dict(zip(out.changes.shas, out.changes.committed, strict=True)).get
    shipped: set[str] = set()
    times, seconds, commits, ids = out.at, out.seconds, out.commits, out.deployments
    for at, d in zip(out.succeeded_at, out.succeeded, strict=True):
        for sha in out.changes.commit_set(d):
            if sha in shipped:
                continue
            shipped.add(sha)
            committed = committed_by_sha(sha)
            if committed is not None:
                times.append(at)
                seconds.append(at - committed)
                commits.append(sha)
                ids.append(d.id)


def deliver(deployments: list[PreparedDeployment], changes: ServiceChanges | None) -> Deliveries:
    """Lead time of each change: commit -> finish of the first successful deployment with it.

    ``deployments``: one slice, sorted with :func:`by_finish`.
    """
    times, succeeded = timeline(deployments, SUCCEEDED)
    out = Deliveries(succeeded_at=times, succeeded=succeeded, changes=changes or _NO_CHANGES)
    if any(d.named for d in succeeded):
        _deliver_any(out)
    else:
        _deliver_spans(out)
    return out
