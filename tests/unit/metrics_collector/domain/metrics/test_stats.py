from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics_collector.domain.metrics import stats


def test_percentile_is_the_nearest_rank() -> None:
    values = np.array([10.0, 20.0, 30.0, 40.0])
    # rank = ceil(p/100 * 4): p50 -> 2 -> 20, p90 -> ceil(3.6) = 4 -> 40, p25 -> 1 -> 10
    assert stats.nearest_rank_percentile(values, 50) == 20.0
    assert stats.nearest_rank_percentile(values, 90) == 40.0
    assert stats.nearest_rank_percentile(values, 25) == 10.0
    assert stats.nearest_rank_percentile(values, 0) == 10.0
    assert stats.nearest_rank_percentile(values, 100) == 40.0


def test_percentile_does_not_round_up_an_exact_rank() -> None:
    # 0.29 * 100 is 28.999999999999996 in floats; the rank must still be exactly 29.
    values = np.arange(1.0, 101.0)
    assert stats.nearest_rank_percentile(values, 29) == 29.0
    assert stats.nearest_rank_percentile(values, 99) == 99.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        stats.nearest_rank_percentile(np.empty(0), 50)
    with pytest.raises(ValueError, match="outside"):
        stats.nearest_rank_percentile(np.array([1.0]), 101)
    with pytest.raises(ValueError, match="no values"):
        stats.mean(np.empty(0))


def test_wilson_interval_of_4_in_10() -> None:
    # p = .4, z = 1.959964, z^2 = 3.841459, d = 1 + z^2/10 = 1.3841459
    # centre = (.4 + z^2/20) / d = .5920729 / 1.3841459 = .427753
    # half = z * sqrt(.4 * .6 / 10 + z^2 / 400) / d = 1.959964 * .1833129 / 1.3841459 = .259573
    # -> [.427753 - .259573, .427753 + .259573] = [.168180, .687326]
    low, high = stats.wilson_interval(4, 10)
    assert low == pytest.approx(0.168180, abs=1e-5)
    assert high == pytest.approx(0.687326, abs=1e-5)


def test_wilson_interval_at_the_edges_touches_0_and_1() -> None:
    # k = 0: upper = z^2 / (n + z^2) = 3.8415 / 13.8415 = .27753
    low, high = stats.wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.277533, abs=1e-5)
    low, high = stats.wilson_interval(10, 10)
    assert low == pytest.approx(0.722467, abs=1e-5)
    assert high == 1.0
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes"):
        stats.wilson_interval(3, 2)


@given(st.integers(0, 100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_holds_the_estimate_inside_0_1(pair: tuple[int, int]) -> None:
    k, n = pair
    low, high = stats.wilson_interval(k, n)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= k / n <= high


def test_histogram_counts_each_value_in_its_upper_inclusive_bucket() -> None:
    # buckets: (-inf, 10], (10, 100], (100, +inf)
    values = np.array([0.0, 10.0, 10.5, 100.0, 101.0, 1e9])
    assert stats.histogram(values, [10.0, 100.0]) == [2, 2, 2]
    assert stats.histogram(np.empty(0), [10.0, 100.0]) == [0, 0, 0]


_DURATIONS = st.lists(
    st.floats(min_value=-1e7, max_value=1e8, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


@given(_DURATIONS, st.floats(min_value=0, max_value=100))
def test_percentile_is_an_observed_value_at_the_nearest_rank(
    values: list[float], pct: float
) -> None:
    ordered = sorted(values)
    got = stats.nearest_rank_percentile(np.array(ordered), pct)
    # Reference: at least pct % of the values are <= it, and fewer than pct % are < it.
    assert got in ordered
    assert sum(v <= got for v in ordered) >= pct / 100 * len(ordered) - 1e-9
    assert sum(v < got for v in ordered) < max(pct / 100 * len(ordered), 1)


@given(_DURATIONS, st.randoms())
def test_mean_is_the_same_in_any_order_and_close_to_exact(
    values: list[float], rng: random.Random
) -> None:
    shuffled = values[:]
    rng.shuffle(shuffled)
    a = stats.mean(np.sort(np.array(values)))
    assert a == stats.mean(np.sort(np.array(shuffled)))
    assert a == pytest.approx(math.fsum(values) / len(values), rel=1e-12, abs=1e-6)


@given(_DURATIONS)
def test_histogram_counts_every_value_once_in_its_bucket(values: list[float]) -> None:
    bounds = [0.0, 60.0, 3600.0, 86400.0]
    lowers = [-math.inf, *bounds]
    uppers = [*bounds, math.inf]
    expected = [sum(lo < v <= up for v in values) for lo, up in zip(lowers, uppers, strict=True)]
    assert stats.histogram(np.sort(np.array(values)), bounds) == expected
