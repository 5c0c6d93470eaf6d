"""``cortex_dora_*`` series: each slice's metrics over a trailing window, at scrape time.

Labels are the agency, service and environment only (never a commit or a deployment id). A
slice's values are computed once per snapshot and minute (the window slides), so a scrape costs
little beyond the slices that changed. Every replica exports the agencies it has loaded: take
``max by (agency, service, environment)`` across replicas (docs/metrics.md "Prometheus").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics_collector.domain.metrics.calculators import (
    DoraConfig,
    DoraSnapshot,
    SliceSnapshot,
    Window,
    compute_metrics,
)
from metrics_collector.domain.metrics.commits import SliceKey
from metrics_collector.dora.cache import DoraCache

LABELS = ("agency", "service", "environment")
BAND_VALUE = {"elite": 4.0, "high": 3.0, "medium": 2.0, "low": 1.0}
_GAUGES = {
    "deployments_per_day": "Deployments that reached the environment per day, over the window.",
    "lead_time_p50_seconds": "Median change lead time (commit to deployed) over the window.",
    "lead_time_p90_seconds": "90th percentile change lead time over the window.",
    "change_failure_rate": "Failed deployments / finished deployments over the window (0-1).",
    "recovery_time_p50_seconds": "Median failed deployment recovery time over the window.",
    "rework_rate": "Unplanned deployments / finished deployments over the window (0-1).",
    "quick_check_score": "DORA quick-check overall score (0-10) over the window.",
}


@dataclass(frozen=True)
class SliceValues:
    deployments_total: float
    gauges: dict[str, float]  # absent: no data
    bands: dict[str, float]


def slice_values(
    key: SliceKey, piece: SliceSnapshot, config: DoraConfig, window: Window
) -> SliceValues:
    r = compute_metrics(DoraSnapshot({key: piece}, config), window)
    candidates = {
        "deployments_per_day": r["deployment_frequency"]["per_day"],
        "lead_time_p50_seconds": r["lead_time"]["p50_s"],
        "lead_time_p90_seconds": r["lead_time"]["p90_s"],
        "change_failure_rate": r["change_failure_rate"]["value"],
        "recovery_time_p50_seconds": r["recovery_time"]["p50_s"],
        "rework_rate": r["rework_rate"]["value"],
        "quick_check_score": r["quick_check"]["overall"],
    }
    bands = {
        "deployment_frequency": r["deployment_frequency"]["band"],
        "lead_time": r["lead_time"]["band"],
        "change_failure_rate": r["change_failure_rate"]["band"],
        "recovery_time": r["recovery_time"]["band"],
        "rework_rate": r["rework_rate"]["band"],
    }
    return SliceValues(
        deployments_total=float(np.count_nonzero(piece.columns.reached)),
        gauges={k: float(v) for k, v in candidates.items() if v is not None},
        bands={k: BAND_VALUE[v] for k, v in bands.items() if v is not None},
    )


class DoraCollector(Collector):
    """Exports the caches attached to it (one per process, but tests run several)."""

    def __init__(
        self, window: timedelta, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.window = window
        self._clock = clock
        self._caches: list[DoraCache] = []
        self._memo: dict[tuple[str, SliceKey], tuple[SliceSnapshot, int, SliceValues]] = {}

    def attach(self, cache: DoraCache) -> None:
        self._caches.append(cache)

    def detach(self, cache: DoraCache) -> None:
        if cache in self._caches:
            self._caches.remove(cache)

    @property
    def attached(self) -> bool:
        return bool(self._caches)

    def _families(self) -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "deployments": CounterMetricFamily(
                "cortex_dora_deployments",
                "Deployments that reached the environment, all time (decreases only when a "
                "late status update corrects one).",
                labels=LABELS,
            ),
            "band": GaugeMetricFamily(
                "cortex_dora_band",
                "DORA 2024 band of a metric over the window: elite=4, high=3, medium=2, low=1.",
                labels=(*LABELS, "metric"),
            ),
            "window": GaugeMetricFamily(
                "cortex_dora_window_seconds", "Trailing window of the cortex_dora_* gauges."
            ),
        }
        for name, doc in _GAUGES.items():
            families[name] = GaugeMetricFamily(f"cortex_dora_{name}", doc, labels=LABELS)
        return families

    def describe(self) -> Iterator[Metric]:
        yield from self._families().values()

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        minute = int(now.timestamp() // 60)
        window = Window(now - self.window, now)
        families = self._families()
        families["window"].add_metric([], self.window.total_seconds())
        memo: dict[tuple[str, SliceKey], tuple[SliceSnapshot, int, SliceValues]] = {}
        entries = {e.agency: e for cache in reversed(self._caches) for e in cache.loaded()}
        for entry in entries.values():
            for key, piece in sorted(entry.snapshots.items()):
                seen = self._memo.get((entry.agency, key))
                if seen is not None and seen[0] is piece and seen[1] == minute:
                    values = seen[2]
                else:
                    values = slice_values(key, piece, entry.config, window)
                memo[(entry.agency, key)] = (piece, minute, values)
                labels = [entry.agency, key[0], key[1]]
                families["deployments"].add_metric(labels, values.deployments_total)
                for name, value in values.gauges.items():
                    families[name].add_metric(labels, value)
                for metric, value in values.bands.items():
                    families["band"].add_metric([*labels, metric], value)
        self._memo = memo
        yield from families.values()


_COLLECTOR: DoraCollector | None = None


def export(cache: DoraCache, window: timedelta) -> DoraCollector:
    """Attach ``cache`` to the process's collector, registering it on first use."""
    global _COLLECTOR
    if _COLLECTOR is None:
        _COLLECTOR = DoraCollector(window)
        REGISTRY.register(_COLLECTOR)
    _COLLECTOR.window = window
    _COLLECTOR.attach(cache)
    return _COLLECTOR
