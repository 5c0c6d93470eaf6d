"""Terse builders for DORA facts. Times are hours after T0 (Monday 2025-03-03 00:00 UTC)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from metrics_collector.domain.metrics.calculators import (
    DEFAULT_CONFIG,
    Change,
    Deployment,
    DeploymentStatus,
    DoraConfig,
    DoraReport,
    Incident,
    TrendBucket,
    Window,
    dora_report,
)

T0 = datetime(2025, 3, 3, tzinfo=UTC)
HOUR = 3600.0
DAY = 24 * HOUR


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def window(start_h: float = -24, end_h: float = 14 * 24) -> Window:
    return Window(h(start_h), h(end_h))


def change(sha: str, committed_h: float, *, service: str = "checkout", **kw: Any) -> Change:
    return Change(f"ev-{sha}", sha, service, h(committed_h), **kw)


def deploy(
    deployment_id: str,
    start_h: float,
    finish_h: float | None = None,
    status: str = "succeeded",
    *,
    shas: Iterable[str] = (),
    labels: Iterable[str] = (),
    service: str = "checkout",
    env: str = "production",
    fixes: str | None = None,
    rollback_of: str | None = None,
) -> Deployment:
    if finish_h is None and status != "in_progress":
        finish_h = start_h + 0.25  # a quarter-hour rollout unless the test says otherwise
    return Deployment(
        deployment_id,
        service,
        env,
        DeploymentStatus(status),
        h(start_h),
        None if finish_h is None else h(finish_h),
        tuple(shas),
        tuple(labels),
        fixes,
        rollback_of,
    )


def incident(
    incident_id: str,
    opened_h: float,
    resolved_h: float | None = None,
    *,
    service: str = "checkout",
    env: str = "production",
    severity: str = "sev2",
    caused_by: str | None = None,
    caused_by_commit: str | None = None,
) -> Incident:
    return Incident(
        incident_id,
        service,
        env,
        h(opened_h),
        None if resolved_h is None else h(resolved_h),
        severity,
        caused_by,
        caused_by_commit,
    )


def report(
    changes: Iterable[Change] = (),
    deployments: Iterable[Deployment] = (),
    incidents: Iterable[Incident] = (),
    *,
    win: Window | None = None,
    config: DoraConfig = DEFAULT_CONFIG,
    bucket: TrendBucket | None = None,
    environment: str | None = "production",
    service: str | None = None,
) -> DoraReport:
    return dora_report(
        changes,
        deployments,
        incidents,
        win or window(),
        config=config,
        bucket=bucket,
        environment=environment,
        service=service,
    )
