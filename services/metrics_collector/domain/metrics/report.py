"""The JSON shape of a DORA report (documented in docs/metrics.md, section "Output").

TypedDicts rather than classes: the calculators build plain dicts that ``json.dumps`` takes as
they are, and mypy still checks every key.
"""

from __future__ import annotations

from typing import NotRequired

# typing_extensions: pydantic builds the JSON schema of these only from its TypedDict on 3.11.
from typing_extensions import TypedDict


class HistogramBin(TypedDict):
    lower_s: float
    upper_s: float | None  # None: the overflow bucket
    count: int


class DeploymentFrequency(TypedDict):
    count: int
    per_day: float
    deploy_days: int
    deploy_days_per_week: float
    frequency_class: str | None
    band: str | None


class LeadTimeSummary(TypedDict):
    n: int
    p50_s: float | None
    p90_s: float | None
    p99_s: float | None
    mean_s: float | None
    anomalies: int
    histogram: NotRequired[list[HistogramBin]]
    band: str | None


class LinkAnomalies(TypedDict):
    # Incidents whose caused_by_deployment finished after they opened (not linked to it).
    incident_before_deployment: int


class ChangeFailureRate(TypedDict):
    value: float | None
    ci95: list[float] | None
    n: int
    failed: int
    incidents: int
    unlinked_incidents: int
    anomalies: LinkAnomalies
    band: str | None


class RecoveryTime(TypedDict):
    n: int
    unrecovered: int
    p50_s: float | None
    p90_s: float | None
    p99_s: float | None
    mean_s: float | None
    histogram: NotRequired[list[HistogramBin]]
    band: str | None


class ReworkRate(TypedDict):
    value: float | None
    ci95: list[float] | None
    n: int
    unplanned: int
    band: str | None


class QuickCheck(TypedDict):
    deployment_frequency: int | None
    lead_time: int | None
    change_failure_rate: int | None
    recovery_time: int | None
    rework_rate: int | None
    overall: float | None


class Linking(TypedDict):
    strategy: str
    max_age_s: float
    window_s: float
    explicit_first: bool


WindowJson = TypedDict("WindowJson", {"from": str, "to": str, "days": float})
TrendPoint = TypedDict(
    "TrendPoint",
    {
        "from": str,
        "to": str,
        "deployment_frequency": DeploymentFrequency,
        "lead_time": LeadTimeSummary,
        "change_failure_rate": ChangeFailureRate,
        "recovery_time": RecoveryTime,
        "rework_rate": ReworkRate,
    },
)


class Filter(TypedDict):
    service: str | None
    environment: str | None


class DoraReport(TypedDict):
    window: WindowJson
    filter: Filter
    bucket: str | None
    linking: Linking
    bands_source: str
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTimeSummary
    change_failure_rate: ChangeFailureRate
    recovery_time: RecoveryTime
    rework_rate: ReworkRate
    quick_check: QuickCheck
    buckets: list[TrendPoint]
