"""Validation and defaults of a DORA query (what GET /v1/metrics/dora accepts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics_collector.domain.metrics.calculators import TrendBucket
from metrics_collector.dora.errors import DoraQueryError
from metrics_collector.dora.service import parse_query

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)


def _parse(**given: str | None) -> object:
    args: dict[str, str | None] = {
        "service": None,
        "environment": None,
        "start": None,
        "end": None,
        "bucket": None,
    }
    return parse_query(**(args | given), now=NOW, max_days=731)  # type: ignore[arg-type]


def test_defaults_are_the_last_30_days_of_production_without_buckets() -> None:
    query = parse_query(
        service=None, environment=None, start=None, end=None, bucket=None, now=NOW, max_days=731
    )
    assert (query.window.start, query.window.end) == (NOW - timedelta(days=30), NOW)
    assert (query.service, query.environment, query.bucket) == (None, "production", None)


def test_dates_are_midnight_utc_and_star_means_every_environment() -> None:
    query = parse_query(
        service="checkout",
        environment="*",
        start="2025-03-03",
        end="2025-03-10T00:00:00+01:00",
        bucket="week",
        now=NOW,
        max_days=731,
    )
    assert query.window.start == datetime(2025, 3, 3, tzinfo=UTC)
    assert query.window.end == datetime(2025, 3, 9, 23, tzinfo=UTC)
    assert (query.service, query.environment, query.bucket) == ("checkout", None, TrendBucket.WEEK)
    assert query.wants(("checkout", "staging"))
    assert not query.wants(("billing", "production"))


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ({"start": "2025-03-10", "end": "2025-03-03"}, "invalid_window"),
        ({"start": "2025-03-03", "end": "2025-03-03"}, "invalid_window"),
        ({"start": "2020-01-01", "end": "2025-01-01"}, "window_too_large"),
        ({"bucket": "fortnight"}, "unknown_bucket"),
        ({"start": "2025-03-03T10:00:00"}, "invalid_time"),
        ({"end": "yesterday"}, "invalid_time"),
    ],
)
def test_bad_queries_are_422_with_a_code_and_a_remedy(given: dict[str, str], code: str) -> None:
    with pytest.raises(DoraQueryError) as raised:
        _parse(**given)
    assert (raised.value.status, raised.value.code) == (422, code)
    assert raised.value.remediation
