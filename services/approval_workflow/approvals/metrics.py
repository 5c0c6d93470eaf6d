"""``cortex_approval_*`` series. Labels are bounded words only (subject kind, outcome): never
an agency, a request id or a principal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram

from approval_workflow.domain.model import SUBJECT_KINDS, Approval

QUEUE_SECONDS = Histogram(
    "cortex_approval_queue_seconds",
    "Time a request waited for a human, from request to its outcome.",
    ["subject_kind", "outcome"],
    buckets=(1, 10, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 172_800, 604_800),
)
PENDING = Gauge(
    "cortex_approval_pending",
    "Pending approval requests (from the database; every replica reports the same value: "
    "take max, not sum).",
    ["subject_kind"],
)
EXPIRED = Counter(
    "cortex_approval_expired_total", "Requests that expired (failed closed).", ["subject_kind"]
)
ESCALATED = Counter(
    "cortex_approval_escalated_total", "Requests escalated after their delay.", ["subject_kind"]
)
SUPERSEDED = Counter(
    "cortex_approval_superseded_total",
    "Requests superseded by a newer one for the same subject.",
    ["subject_kind"],
)


def closed(approvals: Iterable[Approval]) -> None:
    """Count requests that reached a terminal state (called after their commit)."""
    for a in approvals:
        queue = a.queue_seconds()
        if queue is not None:
            QUEUE_SECONDS.labels(a.subject.kind, a.status).observe(queue)
        if a.status == "expired":
            EXPIRED.labels(a.subject.kind).inc()
        elif a.status == "superseded":
            SUPERSEDED.labels(a.subject.kind).inc()


def escalated(approvals: Iterable[Approval]) -> None:
    for a in approvals:
        ESCALATED.labels(a.subject.kind).inc()


def pending(counts: Mapping[str, int]) -> None:
    for kind in SUBJECT_KINDS:
        PENDING.labels(kind).set(counts.get(kind, 0))
