"""The five DORA metrics, pure: the public surface of the calculators.

Typical use (one slice, recomputed when one of its facts changes)::

    snapshot = build_snapshot(changes, deployments, incidents, config,
                              slices=[("checkout", "production")])
    report = compute_metrics(snapshot, Window(start, end), bucket=TrendBucket.WEEK)

``report`` is JSON-ready (``json.dumps(report)``); its schema is in ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Iterable

from metrics_collector.domain.facts.model import (
    STORED_FIELDS,
    Change,
    Deployment,
    DeploymentStatus,
    DoraInputError,
    Incident,
    fact_from_stored,
    merge_order,
    merge_reports,
    to_stored,
    unique_changes,
    unique_deployments,
    unique_incidents,
)
from metrics_collector.domain.metrics.bands import (
    DORA_2024,
    Band,
    BandTable,
    FrequencyClass,
    Thresholds,
)
from metrics_collector.domain.metrics.compute import (
    DURATION_BUCKETS_S,
    TrendBucket,
    Window,
    compute_metrics,
    trend_buckets,
)
from metrics_collector.domain.metrics.config import (
    DEFAULT_CONFIG,
    DoraConfig,
    LinkingConfig,
    LinkStrategy,
)
from metrics_collector.domain.metrics.report import DoraReport, TrendPoint
from metrics_collector.domain.metrics.snapshot import (
    DeploymentOutcome,
    DoraSnapshot,
    LeadTime,
    SliceSnapshot,
    build_snapshot,
    merge_snapshots,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DORA_2024",
    "DURATION_BUCKETS_S",
    "STORED_FIELDS",
    "Band",
    "BandTable",
    "Change",
    "Deployment",
    "DeploymentOutcome",
    "DeploymentStatus",
    "DoraConfig",
    "DoraInputError",
    "DoraReport",
    "DoraSnapshot",
    "FrequencyClass",
    "Incident",
    "LeadTime",
    "LinkStrategy",
    "LinkingConfig",
    "SliceSnapshot",
    "Thresholds",
    "TrendBucket",
    "TrendPoint",
    "Window",
    "build_snapshot",
    "compute_metrics",
    "dora_report",
    "fact_from_stored",
    "merge_order",
    "merge_reports",
    "merge_snapshots",
    "to_stored",
    "trend_buckets",
    "unique_changes",
    "unique_deployments",
    "unique_incidents",
]


def dora_report(
    changes: Iterable[Change],
    deployments: Iterable[Deployment],
    incidents: Iterable[Incident],
    window: Window,
    *,
    config: DoraConfig = DEFAULT_CONFIG,
    service: str | None = None,
    environment: str | None = None,
    bucket: TrendBucket | None = None,
    bands: BandTable = DORA_2024,
) -> DoraReport:
    """Build a snapshot and compute the report in one call."""
    snapshot = build_snapshot(changes, deployments, incidents, config)
    return compute_metrics(
        snapshot, window, service=service, environment=environment, bucket=bucket, bands=bands
    )
