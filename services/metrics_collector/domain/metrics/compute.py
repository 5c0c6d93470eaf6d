"""The five DORA metrics of a snapshot over a window, with trend buckets (pure).

Every fact is placed in time once: a deployment (and its failure and recovery) by its finish,
a lead time by the finish of the deployment that shipped the change, an incident by its
opening. A window ``[from, to)`` takes what lies in it, so trend buckets partition the window.
The result is plain JSON (``DoraReport``), schema in ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from metrics_collector.domain.facts.model import DoraInputError
from metrics_collector.domain.metrics import stats
from metrics_collector.domain.metrics.bands import (
    DAY,
    DORA_2024,
    HOUR,
    MONTH,
    SIX_MONTHS,
    WEEK,
    Band,
    BandTable,
    FrequencyClass,
    band_of,
    duration_score,
    frequency_band,
    frequency_score,
    rate_score,
)
from metrics_collector.domain.metrics.report import (
    ChangeFailureRate,
    DeploymentFrequency,
    DoraReport,
    HistogramBin,
    LeadTimeSummary,
    QuickCheck,
    RecoveryTime,
    ReworkRate,
    TrendPoint,
)
from metrics_collector.domain.metrics.snapshot import Columns, DoraSnapshot, Flags, SliceSnapshot
from metrics_collector.domain.metrics.stats import Floats

# Upper bounds (seconds) of the lead-time and recovery-time histograms: roughly log-spaced
# (x2 to x5 per step) and chosen so that every DORA band edge (1 h, 1 d, 1 w, 1 month,
# 6 months) is a bucket edge, which lets a dashboard read band shares off the histogram.
DURATION_BUCKETS_S: tuple[float, ...] = (
    60.0,
    300.0,
    900.0,
    HOUR,
    4 * HOUR,
    12 * HOUR,
    DAY,
    3 * DAY,
    WEEK,
    2 * WEEK,
    MONTH,
    3 * MONTH,
    SIX_MONTHS,
)
MAX_BUCKETS = 1500


class TrendBucket(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO week, Monday 00:00 UTC
    MONTH = "month"  # calendar month, UTC


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open interval ``[start, end)``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise DoraInputError("window bounds must be timezone-aware")
        if not self.start < self.end:
            raise DoraInputError(f"empty window: {self.start} is not before {self.end}")


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _ratio(value: float) -> float:
    return round(value, 6)


def _name(band: Band | None) -> str | None:
    return None if band is None else band.value


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class _Sample:
    """What a window holds, gathered from every matching slice (numpy, see ``Columns``)."""

    outcome_at: Floats
    reached: Flags
    failed: Flags
    unplanned: Flags
    recovery_s: Floats
    leads: Floats
    incidents: int
    unlinked: int
    incident_before_deployment: int

    @property
    def deployments(self) -> int:
        return len(self.outcome_at)


def _gather(slices: Sequence[SliceSnapshot], low: float, high: float) -> _Sample:
    outcomes: list[tuple[Columns, int, int]] = []
    leads: list[Floats] = []
    incidents = unlinked = before_deployment = 0
    for s in slices:
        c = s.columns
        i, j = np.searchsorted(c.outcome_at, (low, high))
        outcomes.append((c, int(i), int(j)))
        i, j = np.searchsorted(c.lead_at, (low, high))
        leads.append(c.lead_s[i:j])
        i, j = np.searchsorted(c.incident_at, (low, high))
        incidents += int(j - i)
        unlinked += int(j - i) - int(np.count_nonzero(c.incident_linked[i:j]))
        before_deployment += int(np.count_nonzero(c.incident_before_deployment[i:j]))

    def column(name: str, dtype: type[np.generic]) -> Any:
        parts = [getattr(c, name)[i:j] for c, i, j in outcomes]
        return np.concatenate(parts) if parts else np.empty(0, dtype)

    return _Sample(
        outcome_at=column("outcome_at", np.float64),
        reached=column("reached", np.bool_),
        failed=column("failed", np.bool_),
        unplanned=column("unplanned", np.bool_),
        recovery_s=column("recovery_s", np.float64),
        leads=np.concatenate(leads) if leads else np.empty(0, np.float64),
        incidents=incidents,
        unlinked=unlinked,
        incident_before_deployment=before_deployment,
    )


def _histogram(sorted_values: Floats) -> list[HistogramBin]:
    counts = stats.histogram(sorted_values, DURATION_BUCKETS_S)
    lowers = (0.0, *DURATION_BUCKETS_S)
    uppers: tuple[float | None, ...] = (*DURATION_BUCKETS_S, None)
    return [
        {"lower_s": lo, "upper_s": up, "count": n}
        for lo, up, n in zip(lowers, uppers, counts, strict=True)
    ]


def _quantiles(
    sorted_values: Floats,
) -> tuple[float | None, float | None, float | None, float | None]:
    if not len(sorted_values):
        return None, None, None, None
    p50, p90, p99 = (stats.nearest_rank_percentile(sorted_values, p) for p in (50, 90, 99))
    return p50, p90, p99, stats.mean(sorted_values)


def _frequency(sample: _Sample, days: float, bands: BandTable) -> DeploymentFrequency:
    reached = sample.outcome_at[sample.reached]
    count = len(reached)
    deploy_days = len(np.unique(np.floor_divide(reached, DAY)))
    frequency = bands.frequency.classify(count, deploy_days, days)
    return {
        "count": count,
        "per_day": _ratio(count / days),
        "deploy_days": deploy_days,
        "deploy_days_per_week": _ratio(deploy_days * 7 / days),
        "frequency_class": None if frequency is None else frequency.value,
        "band": _name(frequency_band(bands, frequency)),
    }


def _lead_time(sample: _Sample, bands: BandTable, histogram: bool) -> LeadTimeSummary:
    # Sort everything, then drop the negative spans (anomalies) from the front.
    values = np.sort(sample.leads)
    valid = values[int(np.searchsorted(values, 0.0)) :]
    p50, p90, p99, mean = _quantiles(valid)
    summary: LeadTimeSummary = {
        "n": len(valid),
        "p50_s": _seconds(p50),
        "p90_s": _seconds(p90),
        "p99_s": _seconds(p99),
        "mean_s": _seconds(mean),
        "anomalies": len(values) - len(valid),
        "band": _name(band_of(bands.lead_time_s, p50)),
    }
    if histogram:
        summary["histogram"] = _histogram(valid)
    return summary


def _interval(k: int, n: int) -> list[float] | None:
    return None if n == 0 else [_ratio(x) for x in stats.wilson_interval(k, n)]


def _change_failure_rate(sample: _Sample, bands: BandTable) -> ChangeFailureRate:
    n = sample.deployments
    failed = int(np.count_nonzero(sample.failed))
    value = failed / n if n else None
    return {
        "value": None if value is None else _ratio(value),
        "ci95": _interval(failed, n),
        "n": n,
        "failed": failed,
        "incidents": sample.incidents,
        "unlinked_incidents": sample.unlinked,
        "anomalies": {"incident_before_deployment": sample.incident_before_deployment},
        "band": _name(band_of(bands.change_failure_rate, value)),
    }


def _recovery_time(sample: _Sample, bands: BandTable, histogram: bool) -> RecoveryTime:
    spans = sample.recovery_s[sample.failed]
    values = np.sort(spans[~np.isnan(spans)])
    p50, p90, p99, mean = _quantiles(values)
    summary: RecoveryTime = {
        "n": len(values),
        "unrecovered": len(spans) - len(values),
        "p50_s": _seconds(p50),
        "p90_s": _seconds(p90),
        "p99_s": _seconds(p99),
        "mean_s": _seconds(mean),
        "band": _name(band_of(bands.recovery_time_s, p50)),
    }
    if histogram:
        summary["histogram"] = _histogram(values)
    return summary


def _rework_rate(sample: _Sample, bands: BandTable) -> ReworkRate:
    n = sample.deployments
    unplanned = int(np.count_nonzero(sample.unplanned))
    value = unplanned / n if n else None
    return {
        "value": None if value is None else _ratio(value),
        "ci95": _interval(unplanned, n),
        "n": n,
        "unplanned": unplanned,
        "band": _name(band_of(bands.rework_rate, value)),
    }


def _point(
    slices: Sequence[SliceSnapshot], start: datetime, end: datetime, bands: BandTable, *, full: bool
) -> TrendPoint:
    sample = _gather(slices, start.timestamp(), end.timestamp())
    days = (end - start).total_seconds() / DAY
    return {
        "from": _iso(start),
        "to": _iso(end),
        "deployment_frequency": _frequency(sample, days, bands),
        "lead_time": _lead_time(sample, bands, histogram=full),
        "change_failure_rate": _change_failure_rate(sample, bands),
        "recovery_time": _recovery_time(sample, bands, histogram=full),
        "rework_rate": _rework_rate(sample, bands),
    }


def _floor(moment: datetime, bucket: TrendBucket) -> datetime:
    day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if bucket is TrendBucket.DAY:
        return day
    if bucket is TrendBucket.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(moment: datetime, bucket: TrendBucket) -> datetime:
    if bucket is TrendBucket.DAY:
        return moment + timedelta(days=1)
    if bucket is TrendBucket.WEEK:
        return moment + timedelta(days=7)
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1)
    return moment.replace(month=moment.month + 1)


def trend_buckets(window: Window, bucket: TrendBucket) -> list[tuple[datetime, datetime]]:
    """Calendar buckets (UTC) covering the window, the first and last clipped to it."""
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    bounds: list[tuple[datetime, datetime]] = []
    edge = _floor(start, bucket)
    while edge < end:
        following = _next(edge, bucket)
        bounds.append((max(edge, start), min(following, end)))
        if len(bounds) > MAX_BUCKETS:
            raise DoraInputError(f"more than {MAX_BUCKETS} {bucket} buckets: use a coarser bucket")
        edge = following
    return bounds


def _quick_check(point: TrendPoint) -> QuickCheck:
    frequency = point["deployment_frequency"]
    name = frequency["frequency_class"]
    scores = (
        frequency_score(None if name is None else FrequencyClass(name), frequency["per_day"]),
        duration_score(point["lead_time"]["p50_s"]),
        rate_score(point["change_failure_rate"]["value"]),
        duration_score(point["recovery_time"]["p50_s"]),
        rate_score(point["rework_rate"]["value"]),
    )
    known = [s for s in scores if s is not None]
    return {
        "deployment_frequency": scores[0],
        "lead_time": scores[1],
        "change_failure_rate": scores[2],
        "recovery_time": scores[3],
        "rework_rate": scores[4],
        "overall": round(sum(known) / len(known), 1) if known else None,
    }


def compute_metrics(
    snapshot: DoraSnapshot,
    window: Window,
    *,
    service: str | None = None,
    environment: str | None = None,
    bucket: TrendBucket | None = None,
    bands: BandTable = DORA_2024,
) -> DoraReport:
    """The five metrics over ``window`` for the matching slices (None matches every value).

    DORA's own definitions are about production: pass ``environment="production"``.
    """
    slices = [
        s
        for (svc, env), s in sorted(snapshot.slices.items())
        if (service is None or svc == service) and (environment is None or env == environment)
    ]
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    whole = _point(slices, start, end, bands, full=True)
    linking = snapshot.config.linking
    return {
        "window": {
            "from": whole["from"],
            "to": whole["to"],
            "days": _ratio((end - start).total_seconds() / DAY),
        },
        "filter": {"service": service, "environment": environment},
        "bucket": None if bucket is None else bucket.value,
        "linking": {
            "strategy": linking.strategy.value,
            "max_age_s": linking.max_age.total_seconds(),
            "window_s": linking.window.total_seconds(),
            "explicit_first": linking.explicit_first,
        },
        "bands_source": bands.source,
        "deployment_frequency": whole["deployment_frequency"],
        "lead_time": whole["lead_time"],
        "change_failure_rate": whole["change_failure_rate"],
        "recovery_time": whole["recovery_time"],
        "rework_rate": whole["rework_rate"],
        "quick_check": _quick_check(whole),
        "buckets": [
            _point(slices, a, b, bands, full=False)
            for a, b in (trend_buckets(window, bucket) if bucket else [])
        ],
    }
