"""DORA performance bands and the quick-check 0-10 scale (pure).

The default table is read from the software delivery performance clusters of the 2024
Accelerate State of DevOps report; ``docs/metrics.md`` explains each threshold, in particular
how the report's non-monotonic change failure rate (medium 10 % < high 20 %) and its identical
high/medium recovery times are made into a monotonic scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY
SIX_MONTHS = 182.5 * DAY


class Band(StrEnum):
    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FrequencyClass(StrEnum):
    """DORA's deployment-frequency answer, as measured over a window."""

    ON_DEMAND = "on_demand"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    FEWER_THAN_MONTHLY = "fewer_than_monthly"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Upper bounds of a lower-is-better metric.

    ``value < elite`` is elite, ``< high`` high, ``< medium`` medium, anything else low;
    with ``inclusive`` the comparisons are ``<=`` (a rate of exactly 5 % is elite).
    """

    elite: float
    high: float
    medium: float
    inclusive: bool = False

    def __post_init__(self) -> None:
        if not self.elite <= self.high <= self.medium:
            raise ValueError(f"band bounds must not decrease: {self}")

    def classify(self, value: float) -> Band:
        for bound, band in (
            (self.elite, Band.ELITE),
            (self.high, Band.HIGH),
            (self.medium, Band.MEDIUM),
        ):
            if value < bound or (self.inclusive and value == bound):
                return band
        return Band.LOW


@dataclass(frozen=True, slots=True)
class FrequencyThresholds:
    """How a window's deployments become a :class:`FrequencyClass`.

    Deploy-days (distinct UTC days with a deployment) rather than the raw count keep a
    burst of ten deployments on one Friday from looking like a daily cadence.
    """

    on_demand_per_deploy_day: float = 2.0
    daily_deploy_days_per_week: float = 3.0
    weekly_deploy_days_per_week: float = 1.0
    monthly_deploy_days_per_month: float = 1.0

    def classify(self, count: int, deploy_days: int, days: float) -> FrequencyClass | None:
        """None when there was no deployment (no data, no class)."""
        if count == 0 or days <= 0:
            return None
        per_week = deploy_days * 7 / days
        if per_week >= self.daily_deploy_days_per_week:
            if count / deploy_days >= self.on_demand_per_deploy_day:
                return FrequencyClass.ON_DEMAND
            return FrequencyClass.DAILY
        if per_week >= self.weekly_deploy_days_per_week:
            return FrequencyClass.WEEKLY
        if deploy_days * MONTH / (days * DAY) >= self.monthly_deploy_days_per_month:
            return FrequencyClass.MONTHLY
        return FrequencyClass.FEWER_THAN_MONTHLY


_DORA_2024_FREQUENCY_BANDS: Mapping[FrequencyClass, Band] = MappingProxyType(
    {
        FrequencyClass.ON_DEMAND: Band.ELITE,
        FrequencyClass.DAILY: Band.HIGH,
        FrequencyClass.WEEKLY: Band.HIGH,
        FrequencyClass.MONTHLY: Band.MEDIUM,
        FrequencyClass.FEWER_THAN_MONTHLY: Band.LOW,
    }
)


@dataclass(frozen=True, slots=True)
class BandTable:
    """Thresholds of every metric; the defaults are the DORA 2024 clusters."""

    lead_time_s: Thresholds = Thresholds(DAY, WEEK, MONTH)
    recovery_time_s: Thresholds = Thresholds(HOUR, DAY, WEEK)
    change_failure_rate: Thresholds = Thresholds(0.05, 0.20, 0.30, inclusive=True)
    # DORA 2024 introduced rework rate without clusters for it: no band unless configured.
    rework_rate: Thresholds | None = None
    frequency: FrequencyThresholds = FrequencyThresholds()
    deployment_frequency: Mapping[FrequencyClass, Band] = field(
        default_factory=lambda: _DORA_2024_FREQUENCY_BANDS
    )
    source: str = "DORA, Accelerate State of DevOps Report 2024, software delivery clusters"


DORA_2024 = BandTable()


def band_of(thresholds: Thresholds | None, value: float | None) -> Band | None:
    if thresholds is None or value is None:
        return None
    return thresholds.classify(value)


def frequency_band(table: BandTable, frequency: FrequencyClass | None) -> Band | None:
    return None if frequency is None else table.deployment_frequency.get(frequency)


# Quick-check scale: each metric becomes the multiple-choice answer a team would give in the
# DORA survey / quick check (six answers, best first), scored 10, 8, 6, 4, 2, 0.
_ANSWER_SCORES = (10, 8, 6, 4, 2, 0)
_DURATION_ANSWERS = (HOUR, DAY, WEEK, MONTH, SIX_MONTHS)  # less than 1 h ... more than 6 months
_RATE_ANSWERS = (0.15, 0.30, 0.45, 0.60, 0.75)  # 0-15 %, 16-30 %, ... 76-100 %
_FREQUENCY_SCORES: Mapping[FrequencyClass, int] = MappingProxyType(
    {
        FrequencyClass.ON_DEMAND: 10,
        FrequencyClass.DAILY: 8,
        FrequencyClass.WEEKLY: 6,
        FrequencyClass.MONTHLY: 4,
        FrequencyClass.FEWER_THAN_MONTHLY: 2,
    }
)


def _answer_score(value: float | None, bounds: tuple[float, ...], inclusive: bool) -> int | None:
    if value is None:
        return None
    for bound, score in zip(bounds, _ANSWER_SCORES, strict=False):
        if value < bound or (inclusive and value == bound):
            return score
    return _ANSWER_SCORES[-1]


def duration_score(seconds: float | None) -> int | None:
    """Lead time or recovery time on the 0-10 quick-check scale."""
    return _answer_score(seconds, _DURATION_ANSWERS, inclusive=False)


def rate_score(rate: float | None) -> int | None:
    """Change failure or rework rate on the 0-10 quick-check scale."""
    return _answer_score(rate, _RATE_ANSWERS, inclusive=True)


def frequency_score(frequency: FrequencyClass | None, per_day: float) -> int | None:
    """Fewer than monthly splits into 2 (at least once per six months) and 0."""
    if frequency is None:
        return None
    if frequency is FrequencyClass.FEWER_THAN_MONTHLY and per_day * SIX_MONTHS / DAY < 1:
        return 0
    return _FREQUENCY_SCORES[frequency]
