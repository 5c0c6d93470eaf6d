"""Small statistics for the DORA metrics over sorted numpy arrays (pure, no I/O).

Percentiles use the nearest-rank definition: the p-th percentile of n sorted values is the
value at 1-based rank ceil(p/100 * n). It always returns an observed value (a real lead time,
not an interpolation between two changes) and equals PostgreSQL's ``percentile_disc``, so a
query computed in SQL and one computed here agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

#: z for a two-sided 95 % interval.
Z95 = 1.959963984540054

# Guards ceil() against p*n/100 landing a hair above an integer (e.g. 0.29 * 100).
_RANK_EPSILON = 1e-9


Floats = npt.NDArray[np.float64]


def nearest_rank_percentile(sorted_values: Floats, pct: float) -> float:
    """Nearest-rank percentile of already sorted values; ``pct`` in [0, 100]."""
    if not len(sorted_values):
        raise ValueError("percentile of no values")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile {pct} is outside [0, 100]")
    rank = math.ceil(pct * len(sorted_values) / 100 - _RANK_EPSILON)
    return float(sorted_values[max(rank, 1) - 1])


def mean(sorted_values: Floats) -> float:
    """Mean of sorted values: numpy's pairwise sum over the *sorted* values, so the same values
    in any order give the same bits (sorting fixes the order) without ``fsum``'s per-element
    Python cost over a million values; the error is a few ulps, far below the millisecond
    reported."""
    if not len(sorted_values):
        raise ValueError("mean of no values")
    return float(np.sum(sorted_values)) / len(sorted_values)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``.

    Always inside [0, 1] and always containing the point estimate (rounding at 0 and n is
    clamped). With ``n == 0`` nothing is known and the interval is (0, 1).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, min(centre - half, p))
    high = 1.0 if successes == n else min(1.0, max(centre + half, p))
    return low, high


def histogram(sorted_values: Floats, upper_bounds: Sequence[float]) -> list[int]:
    """Counts per bucket ``(previous bound, bound]``, plus a last overflow bucket.

    ``upper_bounds`` must be increasing; the result has ``len(upper_bounds) + 1`` counts.
    Bisecting the sorted values costs O(buckets * log n) instead of O(n).
    """
    edges = np.searchsorted(sorted_values, upper_bounds, side="right").tolist()
    return [hi - lo for lo, hi in zip([0, *edges], [*edges, len(sorted_values)], strict=True)]
