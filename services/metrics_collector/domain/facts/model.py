"""The facts the DORA metrics are computed from, and how duplicates of one fact are merged.

Facts arrive late, twice, or out of order. The calculators therefore take *sets* of facts,
reduce each identity to one fact with :func:`unique_changes`, :func:`unique_deployments` and
:func:`unique_incidents`, and sort internally: the same facts in any order give the same
result. When one identity arrives with different content, the winner is chosen by content,
never by arrival order (see ``docs/metrics.md`` "Duplicates"):

- deployment (by ``deployment_id``): the most final status wins -
  in_progress < cancelled < succeeded < failed < rolled_back - then the later ``finished_at``;
- incident (by ``incident_id``): a resolved record beats an open one, then the later
  ``resolved_at``;
- change (by ``(service, commit_sha)``, since two doors may report one commit under two event
  ids): the record with more of the optional times wins; of a rollout's revision
  (``REVISION_PREFIX``), the earliest creation.

Remaining ties are broken by comparing all fields, and the winner's empty fields (no
``finished_at``, no commit list, no ``caused_by`` ...) are filled from the other records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import Any, TypeVar

from cortex_contracts.names import canonical_name

#: ``commit_sha`` of a change that is a platform rollout's revision, not a commit
#: (``revision:<revision>``; a git sha never starts so).
REVISION_PREFIX = "revision:"


class DoraInputError(ValueError):
    """A fact or a query the calculators cannot use (the API should answer 422)."""


class DeploymentStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        # A naive time would be read as the server's local time: refuse it instead.
        raise DoraInputError(f"{name} must be timezone-aware, got {value!r}")


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _derived() -> Any:
    # Epoch seconds computed once per fact, at construction: a fact is built once and then
    # takes part in every rebuild of its slice, where datetime arithmetic would dominate.
    return field(init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Change:
    """A commit of a service; lead time starts at ``committed_at``."""

    event_id: str
    commit_sha: str
    service: str
    committed_at: datetime
    authored_at: datetime | None = None
    pr_opened_at: datetime | None = None
    pr_merged_at: datetime | None = None
    committed_ts: float = _derived()

    def __post_init__(self) -> None:
        _aware("committed_at", self.committed_at)
        _aware("authored_at", self.authored_at)
        _aware("pr_opened_at", self.pr_opened_at)
        _aware("pr_merged_at", self.pr_merged_at)
        object.__setattr__(self, "committed_ts", self.committed_at.timestamp())


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployment of a service to one environment, in its latest known state."""

    deployment_id: str
    service: str
    environment: str
    status: DeploymentStatus
    started_at: datetime
    finished_at: datetime | None = None
    commit_shas: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    fixes_incident: str | None = None
    rollback_of: str | None = None
    head_commit: str | None = None
    ships_no_commits: bool = False
    started_ts: float = _derived()
    finished_ts: float | None = _derived()

    def __post_init__(self) -> None:
        _aware("started_at", self.started_at)
        _aware("finished_at", self.finished_at)
        object.__setattr__(self, "started_ts", self.started_at.timestamp())
        object.__setattr__(self, "finished_ts", _epoch(self.finished_at))
        if not isinstance(self.status, DeploymentStatus):
            try:
                object.__setattr__(self, "status", DeploymentStatus(self.status))
            except ValueError as exc:
                raise DoraInputError(f"unknown deployment status {self.status!r}") from exc
        # Lists are accepted for convenience; tuples keep the fact hashable and immutable.
        if not isinstance(self.commit_shas, tuple):
            object.__setattr__(self, "commit_shas", tuple(self.commit_shas))
        if not isinstance(self.labels, tuple):
            object.__setattr__(self, "labels", tuple(self.labels))


@dataclass(frozen=True, slots=True)
class Incident:
    """A production incident; ``environment`` empty means "unknown" (see DoraConfig)."""

    incident_id: str
    service: str
    environment: str
    opened_at: datetime
    resolved_at: datetime | None = None
    severity: str = ""
    caused_by_deployment: str | None = None
    caused_by_commit: str | None = None
    reopened_at: datetime | None = None
    reported_at: datetime | None = None
    opened_ts: float = _derived()
    resolved_ts: float | None = _derived()

    def __post_init__(self) -> None:
        _aware("opened_at", self.opened_at)
        _aware("resolved_at", self.resolved_at)
        _aware("reopened_at", self.reopened_at)
        _aware("reported_at", self.reported_at)
        object.__setattr__(self, "opened_ts", self.opened_at.timestamp())
        object.__setattr__(self, "resolved_ts", _epoch(self.resolved_at))


Fact = Change | Deployment | Incident
F = TypeVar("F", Change, Deployment, Incident)

_STATUS_FINALITY = {
    DeploymentStatus.IN_PROGRESS: 0,
    DeploymentStatus.CANCELLED: 1,
    DeploymentStatus.SUCCEEDED: 2,
    DeploymentStatus.FAILED: 3,
    DeploymentStatus.ROLLED_BACK: 4,
}


def _empty(value: object) -> bool:
    return value is None or value is False or value == "" or value == ()


def canonical_service(name: str) -> str:
    """The one identity of a service (``cortex_contracts.names.canonical_name``)."""
    return canonical_name(name)


def canonical_environment(name: str) -> str:
    """The one identity of an environment: the rule of services (``canonical_name``), so
    ``Production`` and ``production`` are one environment, and facts stored before the rule
    applied to environments are found under it (they are read through it)."""
    return canonical_name(name)


def _stated(fact: Fact) -> list[str]:
    return [f.name for f in fields(fact) if f.init]


def _total_key(fact: Fact) -> tuple[tuple[bool, Any], ...]:
    # Every stated field, empty sorting first: two different facts never compare equal.
    return tuple(
        (False, "") if _empty(v) else (True, v) for v in (getattr(fact, n) for n in _stated(fact))
    )


def _merge(
    group: list[F],
    rank: Callable[[F], tuple[Any, ...]],
    settle: Callable[[F, list[F]], F] | None = None,
) -> F:
    ordered = sorted(group, key=lambda f: (rank(f), _total_key(f)), reverse=True)
    winner = ordered[0]
    filled: dict[str, Any] = {}
    for name in _stated(winner):
        if _empty(getattr(winner, name)):
            found = next((v for o in ordered[1:] if not _empty(v := getattr(o, name))), None)
            if found is not None:
                filled[name] = found
    merged = replace(winner, **filled) if filled else winner
    return settle(merged, group) if settle is not None else merged


def _earliest_start(merged: Deployment, group: list[Deployment]) -> Deployment:
    # A deployment started when its first report says it did: GitLab's `running` hook carries
    # the start, its `success` hook only the finish (which it also sends as the start).
    earliest = min(d.started_at for d in group)
    return merged if earliest >= merged.started_at else replace(merged, started_at=earliest)


def _latest(moments: Iterable[datetime | None]) -> datetime | None:
    return max((m for m in moments if m is not None), default=None)


def _incident_history(merged: Incident, group: list[Incident]) -> Incident:
    # A reopen later than every resolution makes the incident open again (PagerDuty reuses the
    # id); the latest reported severity wins (PagerDuty `incident.priority_updated`).
    changes: dict[str, Any] = {}
    reopened = _latest(i.reopened_at for i in group)
    resolved = _latest(i.resolved_at for i in group)
    if reopened is not None:
        changes["reopened_at"] = reopened
        if resolved is not None and reopened >= resolved:
            changes["resolved_at"] = None
    rated = [i for i in group if i.severity and i.reported_at is not None]
    if rated:
        latest = max(rated, key=lambda i: (i.reported_at, i.severity))
        changes["severity"], changes["reported_at"] = latest.severity, latest.reported_at
    changes = {k: v for k, v in changes.items() if getattr(merged, k) != v}
    return replace(merged, **changes) if changes else merged


def _unique(
    facts: Iterable[F],
    key: Callable[[F], Any],
    rank: Callable[[F], tuple[Any, ...]],
    settle: Callable[[F, list[F]], F] | None = None,
) -> dict[Any, F]:
    # The common case (no duplicate) costs one dict lookup per fact.
    first: dict[Any, F] = {}
    groups: dict[Any, list[F]] = {}
    for fact in facts:
        k = key(fact)
        seen = first.setdefault(k, fact)
        if seen is not fact and seen != fact:
            groups.setdefault(k, [seen]).append(fact)
    for k, group in groups.items():
        first[k] = _merge(group, rank, settle)
    return first


def _change_rank(c: Change) -> tuple[int, float]:
    # A revision exists since the first run that asked for it: of the runs of one revision
    # (staging then production, a retry after a rollback), the earliest creation wins.
    earliest = -c.committed_ts if c.commit_sha.startswith(REVISION_PREFIX) else 0.0
    return (sum(t is not None for t in (c.authored_at, c.pr_opened_at, c.pr_merged_at)), earliest)


def _deployment_rank(d: Deployment) -> tuple[int, bool, datetime | None]:
    finished = d.finished_at
    return (_STATUS_FINALITY[d.status], finished is not None, finished)


def _incident_rank(i: Incident) -> tuple[bool, datetime | None]:
    return (i.resolved_at is not None, i.resolved_at)


def unique_changes(changes: Iterable[Change]) -> dict[tuple[str, str], Change]:
    """One change per ``(service, commit_sha)``."""
    return _unique(changes, attrgetter("service", "commit_sha"), _change_rank)


def unique_deployments(deployments: Iterable[Deployment]) -> dict[str, Deployment]:
    """One deployment per ``deployment_id``, in its most final state."""
    return _unique(deployments, attrgetter("deployment_id"), _deployment_rank, _earliest_start)


def unique_incidents(incidents: Iterable[Incident]) -> dict[str, Incident]:
    """One incident per ``incident_id``, resolved beating open."""
    return _unique(incidents, attrgetter("incident_id"), _incident_rank, _incident_history)


def _rank_of(fact: Fact) -> Callable[[Any], tuple[Any, ...]]:
    if isinstance(fact, Change):
        return _change_rank
    if isinstance(fact, Deployment):
        return _deployment_rank
    return _incident_rank


def merge_order(reports: Sequence[Fact]) -> list[int]:
    """Indices of one identity's reports in merge order: the winner first, then the reports
    its empty fields are filled from (the order :func:`unique_deployments` & co. use)."""
    if not reports:
        return []
    rank = _rank_of(reports[0])
    return sorted(
        range(len(reports)), key=lambda i: (rank(reports[i]), _total_key(reports[i])), reverse=True
    )


def merge_reports(reports: Sequence[Fact]) -> Fact:
    """The one fact that several reports of one identity stand for (any order, duplicates)."""
    if not reports:
        raise DoraInputError("no report to merge")
    first = reports[0]
    if isinstance(first, Change):
        return _merge([r for r in reports if isinstance(r, Change)], _change_rank)
    if isinstance(first, Deployment):
        deployments = [r for r in reports if isinstance(r, Deployment)]
        return _merge(deployments, _deployment_rank, _earliest_start)
    return _merge(
        [r for r in reports if isinstance(r, Incident)], _incident_rank, _incident_history
    )


def unique_changes_by_service(changes: Iterable[Change]) -> dict[str, list[Change]]:
    """The values of :func:`unique_changes`, grouped by service, in one pass and without a
    key object per change (the hot path of every rebuild)."""
    by_service: defaultdict[str, dict[str, Change]] = defaultdict(dict)
    conflicts: dict[tuple[str, str], list[Change]] = {}
    for c in changes:
        seen = by_service[c.service].setdefault(c.commit_sha, c)
        if seen is not c and seen != c:
            conflicts.setdefault((c.service, c.commit_sha), [seen]).append(c)
    for (service, sha), group in conflicts.items():
        by_service[service][sha] = _merge(group, _change_rank)
    return {service: list(group.values()) for service, group in by_service.items()}


# --- stored rows (``DeliveryFact.facts``, i.e. MessageToDict with proto field names) ---------

_PROTO_STATUS = {
    "DEPLOYMENT_STATUS_SUCCEEDED": DeploymentStatus.SUCCEEDED,
    "DEPLOYMENT_STATUS_FAILED": DeploymentStatus.FAILED,
    "DEPLOYMENT_STATUS_IN_PROGRESS": DeploymentStatus.IN_PROGRESS,
    "DEPLOYMENT_STATUS_ROLLED_BACK": DeploymentStatus.ROLLED_BACK,
    "DEPLOYMENT_STATUS_CANCELLED": DeploymentStatus.CANCELLED,
}


_STATUS_PROTO = {status: name for name, status in _PROTO_STATUS.items()}


def _time(facts: Mapping[str, Any], name: str) -> datetime | None:
    raw = facts.get(name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError as exc:
        raise DoraInputError(f"{name}: not an RFC 3339 time: {raw!r}") from exc


def fact_from_stored(
    kind: str, facts: Mapping[str, Any], *, event_id: str, occurred_at: datetime
) -> Fact:
    """The domain fact of a stored delivery row.

    ``occurred_at`` is the row's time (already the committed/started/opened time with the
    envelope time as fallback) and fills a missing commit or start time. A deployment stored
    without a status (proto UNSPECIFIED) is treated as in progress: it is not counted.
    """
    if kind == "change":
        return Change(
            event_id=event_id,
            commit_sha=str(facts.get("commit_sha") or event_id),
            service=canonical_service(str(facts.get("service", ""))),
            committed_at=_time(facts, "committed_at") or _time(facts, "authored_at") or occurred_at,
            authored_at=_time(facts, "authored_at"),
            pr_opened_at=_time(facts, "pr_opened_at"),
            pr_merged_at=_time(facts, "pr_merged_at"),
        )
    if kind == "deployment":
        return Deployment(
            deployment_id=str(facts.get("deployment_id") or event_id),
            service=canonical_service(str(facts.get("service", ""))),
            environment=canonical_environment(str(facts.get("environment", ""))),
            status=_PROTO_STATUS.get(str(facts.get("status")), DeploymentStatus.IN_PROGRESS),
            started_at=_time(facts, "started_at") or occurred_at,
            finished_at=_time(facts, "finished_at"),
            commit_shas=tuple(str(s) for s in facts.get("commit_shas", ())),
            labels=tuple(str(s) for s in facts.get("labels", ())),
            fixes_incident=str(facts["fixes_incident"]) if facts.get("fixes_incident") else None,
            rollback_of=str(facts["rollback_of"]) if facts.get("rollback_of") else None,
            head_commit=str(facts["head_commit"]) if facts.get("head_commit") else None,
            ships_no_commits=bool(facts.get("ships_no_commits")),
        )
    if kind == "incident":
        return Incident(
            incident_id=str(facts.get("incident_id") or event_id),
            service=canonical_service(str(facts.get("service", ""))),
            environment=canonical_environment(str(facts.get("environment", ""))),
            opened_at=_time(facts, "opened_at") or occurred_at,
            resolved_at=_time(facts, "resolved_at"),
            severity=str(facts.get("severity", "")),
            caused_by_deployment=str(facts.get("caused_by_deployment") or "") or None,
            caused_by_commit=str(facts.get("caused_by_commit") or "") or None,
            reopened_at=_time(facts, "reopened_at"),
            reported_at=_time(facts, "reported_at"),
        )
    raise DoraInputError(f"not a delivery fact kind: {kind!r}")


def _rfc3339(moment: datetime) -> str:
    # The shape MessageToDict gives a Timestamp, so a stored row looks the same either way.
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _optional_time(moment: datetime | None) -> str | None:
    return None if moment is None else _rfc3339(moment)


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    # MessageToDict leaves out empty fields: so does this.
    return {k: v for k, v in values.items() if not _empty(v)}


def to_stored(fact: Fact) -> dict[str, Any]:
    """The stored fields of a fact: ``fact_from_stored(kind, to_stored(f), ...) == f``."""
    if isinstance(fact, Change):
        return _present(
            {
                "event_id": fact.event_id,
                "commit_sha": fact.commit_sha,
                "service": fact.service,
                "committed_at": _rfc3339(fact.committed_at),
                "authored_at": _optional_time(fact.authored_at),
                "pr_opened_at": _optional_time(fact.pr_opened_at),
                "pr_merged_at": _optional_time(fact.pr_merged_at),
            }
        )
    if isinstance(fact, Deployment):
        return _present(
            {
                "deployment_id": fact.deployment_id,
                "service": fact.service,
                "environment": fact.environment,
                "status": _STATUS_PROTO[fact.status],
                "started_at": _rfc3339(fact.started_at),
                "finished_at": _optional_time(fact.finished_at),
                "commit_shas": list(fact.commit_shas),
                "labels": list(fact.labels),
                "fixes_incident": fact.fixes_incident,
                "rollback_of": fact.rollback_of,
                "head_commit": fact.head_commit,
                "ships_no_commits": fact.ships_no_commits,
            }
        )
    return _present(
        {
            "incident_id": fact.incident_id,
            "service": fact.service,
            "environment": fact.environment,
            "opened_at": _rfc3339(fact.opened_at),
            "resolved_at": _optional_time(fact.resolved_at),
            "severity": fact.severity,
            "caused_by_deployment": fact.caused_by_deployment,
            "caused_by_commit": fact.caused_by_commit,
            "reopened_at": _optional_time(fact.reopened_at),
            "reported_at": _optional_time(fact.reported_at),
        }
    )


#: The stored fields the calculators read, per kind (``to_stored`` writes exactly these).
STORED_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "change": (
            "event_id",
            "commit_sha",
            "service",
            "committed_at",
            "authored_at",
            "pr_opened_at",
            "pr_merged_at",
        ),
        "deployment": (
            "deployment_id",
            "service",
            "environment",
            "status",
            "started_at",
            "finished_at",
            "commit_shas",
            "labels",
            "fixes_incident",
            "rollback_of",
            "head_commit",
            "ships_no_commits",
        ),
        "incident": (
            "incident_id",
            "service",
            "environment",
            "opened_at",
            "resolved_at",
            "severity",
            "caused_by_deployment",
            "caused_by_commit",
            "reopened_at",
            "reported_at",
        ),
    }
)
