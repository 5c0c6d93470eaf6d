from __future__ import annotations

import pytest

from metrics_collector.domain.metrics.bands import (
    DAY,
    DORA_2024,
    HOUR,
    MONTH,
    WEEK,
    Band,
    BandTable,
    FrequencyClass,
    FrequencyThresholds,
    Thresholds,
    duration_score,
    frequency_band,
    frequency_score,
    rate_score,
)


@pytest.mark.parametrize(
    ("seconds", "band"),
    [
        (DAY - 1, Band.ELITE),  # "less than one day"
        (DAY, Band.HIGH),
        (WEEK - 1, Band.HIGH),
        (WEEK, Band.MEDIUM),
        (MONTH - 1, Band.MEDIUM),
        (MONTH, Band.LOW),
        (365 * DAY, Band.LOW),
    ],
)
def test_lead_time_bands_follow_dora_2024(seconds: float, band: Band) -> None:
    assert DORA_2024.lead_time_s.classify(seconds) is band


@pytest.mark.parametrize(
    ("seconds", "band"),
    [
        (HOUR - 1, Band.ELITE),
        (HOUR, Band.HIGH),
        (DAY - 1, Band.HIGH),
        # DORA 2024 gives high and medium the same "less than one day"; medium takes the gap
        # up to low's "one week to one month".
        (DAY, Band.MEDIUM),
        (WEEK, Band.LOW),
    ],
)
def test_recovery_time_bands_are_monotonic(seconds: float, band: Band) -> None:
    assert DORA_2024.recovery_time_s.classify(seconds) is band


@pytest.mark.parametrize(
    ("rate", "band"),
    [
        (0.0, Band.ELITE),
        (0.05, Band.ELITE),  # "5 %" is elite, inclusive
        (0.10, Band.HIGH),  # the medium cluster's 10 % is not better than high
        (0.20, Band.HIGH),
        (0.25, Band.MEDIUM),
        (0.30, Band.MEDIUM),
        (0.31, Band.LOW),
        (1.0, Band.LOW),
    ],
)
def test_change_failure_rate_bands_resolve_the_medium_quirk_monotonically(
    rate: float, band: Band
) -> None:
    assert DORA_2024.change_failure_rate.classify(rate) is band


def test_rework_rate_has_no_band_unless_configured() -> None:
    assert DORA_2024.rework_rate is None
    table = BandTable(rework_rate=Thresholds(0.02, 0.05, 0.10, inclusive=True))
    assert table.rework_rate is not None
    assert table.rework_rate.classify(0.04) is Band.HIGH


def test_thresholds_must_not_decrease() -> None:
    with pytest.raises(ValueError, match="must not decrease"):
        Thresholds(0.2, 0.1, 0.3)


@pytest.mark.parametrize(
    ("count", "deploy_days", "days", "expected"),
    [
        # 15 deployments on 5 days in a week: 5 deploy-days/week >= 3, 3 per deploy-day >= 2
        (15, 5, 7.0, FrequencyClass.ON_DEMAND),
        # one a day on weekdays: 5 deploy-days/week, 1 per deploy-day
        (5, 5, 7.0, FrequencyClass.DAILY),
        # ten on a single Friday: 1 deploy-day/week
        (10, 1, 7.0, FrequencyClass.WEEKLY),
        # 6 on 5 days in 14 days: 5 * 7 / 14 = 2.5 deploy-days/week
        (6, 5, 14.0, FrequencyClass.WEEKLY),
        # 3 in 60 days: 0.35 deploy-days/week, 3 * 30 / 60 = 1.5 per month
        (3, 3, 60.0, FrequencyClass.MONTHLY),
        # 2 in 90 days: 2 * 30 / 90 = 0.67 per month
        (2, 2, 90.0, FrequencyClass.FEWER_THAN_MONTHLY),
        (0, 0, 90.0, None),
    ],
)
def test_frequency_class(
    count: int, deploy_days: int, days: float, expected: FrequencyClass | None
) -> None:
    assert FrequencyThresholds().classify(count, deploy_days, days) is expected


def test_frequency_bands_map_dora_answers() -> None:
    assert frequency_band(DORA_2024, FrequencyClass.ON_DEMAND) is Band.ELITE
    assert frequency_band(DORA_2024, FrequencyClass.DAILY) is Band.HIGH
    assert frequency_band(DORA_2024, FrequencyClass.WEEKLY) is Band.HIGH
    assert frequency_band(DORA_2024, FrequencyClass.MONTHLY) is Band.MEDIUM
    assert frequency_band(DORA_2024, FrequencyClass.FEWER_THAN_MONTHLY) is Band.LOW
    assert frequency_band(DORA_2024, None) is None


@pytest.mark.parametrize(
    ("seconds", "score"),
    [(59 * 60, 10), (HOUR, 8), (DAY, 6), (WEEK, 4), (MONTH, 2), (200 * DAY, 0), (None, None)],
)
def test_duration_quick_check_score(seconds: float | None, score: int | None) -> None:
    assert duration_score(seconds) == score


@pytest.mark.parametrize(
    ("rate", "score"),
    [(0.0, 10), (0.15, 10), (0.16, 8), (0.30, 8), (0.45, 6), (0.6, 4), (0.75, 2), (0.9, 0)],
)
def test_rate_quick_check_score(rate: float, score: int) -> None:
    assert rate_score(rate) == score


def test_frequency_quick_check_splits_fewer_than_monthly_at_six_months() -> None:
    assert frequency_score(FrequencyClass.ON_DEMAND, 5.0) == 10
    assert frequency_score(FrequencyClass.MONTHLY, 0.05) == 4
    # 2 in 90 days: 2/90 * 182.5 = 4.06 deployments per six months -> 2
    assert frequency_score(FrequencyClass.FEWER_THAN_MONTHLY, 2 / 90) == 2
    # 1 in 365 days: .5 per six months -> 0
    assert frequency_score(FrequencyClass.FEWER_THAN_MONTHLY, 1 / 365) == 0
    assert frequency_score(None, 0.0) is None
