"""Windows, trend buckets, deployment frequency and the report's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from metrics_collector.domain.metrics.calculators import (
    DoraInputError,
    TrendBucket,
    Window,
    build_snapshot,
    compute_metrics,
    merge_snapshots,
    trend_buckets,
)
from tests.unit.metrics_collector.builders import T0, change, deploy, h, incident, report, window


def test_deployment_frequency_worked_example() -> None:
    # 14-day window from Monday T0. Reached production: Mon 10:00 and 15:00, Tue, Thu,
    # next Mon, next Wed (6 deployments on 5 days); a failed, an in-progress and a cancelled
    # deployment do not count.
    deployments = [
        deploy("a", 10),
        deploy("b", 15),
        deploy("c", 24 + 10),
        deploy("d", 72 + 10),
        deploy("e", 168 + 10),
        deploy("f", 216 + 10),
        deploy("g", 216 + 12, status="failed"),
        deploy("h", 216 + 13, status="in_progress"),
        deploy("i", 216 + 14, status="cancelled"),
    ]
    frequency = report([], deployments, win=window(0, 14 * 24))["deployment_frequency"]
    # per day 6 / 14 = .428571; deploy-days per week 5 * 7 / 14 = 2.5: under 3 -> weekly
    assert frequency == {
        "count": 6,
        "per_day": 0.428571,
        "deploy_days": 5,
        "deploy_days_per_week": 2.5,
        "frequency_class": "weekly",
        "band": "high",
    }


def test_on_demand_deployment_is_elite() -> None:
    # three deployments on each weekday of one week: 15 on 5 days, 3 per deploy-day
    deployments = [deploy(f"d{day}-{k}", day * 24 + 9 + k) for day in range(5) for k in range(3)]
    frequency = report([], deployments, win=window(0, 7 * 24))["deployment_frequency"]
    assert (frequency["frequency_class"], frequency["band"]) == ("on_demand", "elite")


def test_no_deployments_gives_empty_metrics_not_errors() -> None:
    r = report([change("a", 0)], [], [incident("I", 5)])
    assert r["deployment_frequency"] == {
        "count": 0,
        "per_day": 0.0,
        "deploy_days": 0,
        "deploy_days_per_week": 0.0,
        "frequency_class": None,
        "band": None,
    }
    assert r["lead_time"]["n"] == 0
    assert r["lead_time"]["p50_s"] is None
    assert r["change_failure_rate"]["value"] is None
    assert r["change_failure_rate"]["ci95"] is None
    assert r["change_failure_rate"]["unlinked_incidents"] == 1
    assert r["recovery_time"]["mean_s"] is None
    assert r["rework_rate"]["value"] is None
    assert r["quick_check"]["overall"] is None
    json.dumps(r, allow_nan=False)


def test_window_is_half_open() -> None:
    deployments = [deploy("at-start", -1, 0), deploy("at-end", 23, 24)]
    assert report([], deployments, win=window(0, 24))["deployment_frequency"]["count"] == 1


def test_report_is_plain_json_with_the_documented_keys() -> None:
    r = report([change("a", 0)], [deploy("D1", 1, 2)], bucket=TrendBucket.WEEK)
    assert set(r) == {
        "window",
        "filter",
        "bucket",
        "linking",
        "bands_source",
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "recovery_time",
        "rework_rate",
        "quick_check",
        "buckets",
    }
    assert r["window"] == {"from": "2025-03-02T00:00:00Z", "to": "2025-03-17T00:00:00Z", "days": 15}
    assert r["linking"] == {
        "strategy": "latest_before",
        "max_age_s": 604800.0,
        "window_s": 86400.0,
        "explicit_first": True,
    }
    assert json.loads(json.dumps(r, allow_nan=False)) == r
    assert "histogram" not in r["buckets"][0]["lead_time"]


def test_quick_check_scores_each_metric_and_their_mean() -> None:
    # 1 deployment a day on weekdays for 4 weeks: daily (8); lead time 2 h (8);
    # CFR 0 (10); no failure, so no recovery score; rework 0 (10) -> (8+8+10+10)/4 = 9.0
    deployments = [deploy(f"d{d}", d * 24 + 10) for d in range(28) if d % 7 < 5]
    changes = [change(f"c{d}", d * 24 + 8.25) for d in range(28) if d % 7 < 5]
    r = report(changes, deployments, win=window(0, 28 * 24))
    assert r["quick_check"] == {
        "deployment_frequency": 8,
        "lead_time": 8,
        "change_failure_rate": 10,
        "recovery_time": None,
        "rework_rate": 10,
        "overall": 9.0,
    }


def test_weekly_buckets_start_on_monday_and_are_clipped_to_the_window() -> None:
    # Wednesday 12:00 to the second Tuesday after, 00:00
    win = Window(h(2 * 24 + 12), h(15 * 24))
    assert trend_buckets(win, TrendBucket.WEEK) == [
        (h(2 * 24 + 12), h(7 * 24)),
        (h(7 * 24), h(14 * 24)),
        (h(14 * 24), h(15 * 24)),
    ]


def test_monthly_buckets_cross_the_year() -> None:
    win = Window(datetime(2024, 12, 15, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC))
    starts = [a for a, _ in trend_buckets(win, TrendBucket.MONTH)]
    assert starts == [
        datetime(2024, 12, 15, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 2, 1, tzinfo=UTC),
    ]


def test_daily_buckets_use_utc_whatever_the_window_timezone() -> None:
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    win = Window(datetime(2025, 3, 3, tzinfo=paris), datetime(2025, 3, 4, tzinfo=paris))
    # Paris midnight is 23:00 UTC the day before
    assert [(a.isoformat(), b.isoformat()) for a, b in trend_buckets(win, TrendBucket.DAY)] == [
        ("2025-03-02T23:00:00+00:00", "2025-03-03T00:00:00+00:00"),
        ("2025-03-03T00:00:00+00:00", "2025-03-03T23:00:00+00:00"),
    ]


def test_trend_buckets_partition_the_window_counts() -> None:
    deployments = [
        deploy(f"d{k}", 7 * k, status="failed" if k % 4 == 0 else "succeeded") for k in range(40)
    ]
    r = report([], deployments, bucket=TrendBucket.DAY)
    buckets = r["buckets"]
    assert len(buckets) == 15
    assert (
        sum(b["deployment_frequency"]["count"] for b in buckets)
        == r["deployment_frequency"]["count"]
    )
    assert (
        sum(b["change_failure_rate"]["failed"] for b in buckets)
        == r["change_failure_rate"]["failed"]
    )
    assert buckets[0]["from"] == r["window"]["from"]
    assert buckets[-1]["to"] == r["window"]["to"]


def test_too_many_buckets_are_refused() -> None:
    win = Window(T0, T0 + timedelta(days=3000))
    with pytest.raises(DoraInputError, match="coarser"):
        trend_buckets(win, TrendBucket.DAY)


def test_window_must_be_aware_and_non_empty() -> None:
    with pytest.raises(DoraInputError, match="timezone-aware"):
        Window(datetime(2025, 1, 1), datetime(2025, 1, 2))
    with pytest.raises(DoraInputError, match="empty window"):
        Window(T0, T0)


def test_service_and_environment_filters_select_slices() -> None:
    deployments = [
        deploy("a", 1),
        deploy("b", 2, service="billing"),
        deploy("c", 3, env="staging"),
    ]
    snapshot = build_snapshot([], deployments, [])

    def count(service: str | None = None, environment: str | None = None) -> int:
        r = compute_metrics(snapshot, window(), service=service, environment=environment)
        return r["deployment_frequency"]["count"]

    assert count() == 3
    assert count(environment="production") == 2
    assert count(service="checkout") == 2
    assert count(service="checkout", environment="production") == 1


def test_merged_slice_snapshots_equal_one_snapshot_of_everything() -> None:
    changes = [change("a", 0), change("b", 0, service="billing")]
    deployments = [
        deploy("D1", 1, 2, "failed"),
        deploy("D2", 3, 4),
        deploy("B1", 1, 2, service="billing"),
    ]
    incidents = [incident("I", 5, 6, service="billing")]
    whole = build_snapshot(changes, deployments, incidents)
    pieces = [build_snapshot(changes, deployments, incidents, slices=[key]) for key in whole.slices]
    merged = merge_snapshots(pieces)
    assert merged == whole
    assert compute_metrics(merged, window()) == compute_metrics(whole, window())


def test_merging_overlapping_snapshots_is_refused() -> None:
    snapshot = build_snapshot([], [deploy("D1", 1)], [])
    with pytest.raises(DoraInputError, match="more than one snapshot"):
        merge_snapshots([snapshot, snapshot])


def test_the_worked_example_of_docs_metrics_md() -> None:
    # docs/metrics.md, "Worked example": one week of checkout in production
    mon, tue, wed, thu = 0, 24, 48, 72
    changes = [
        change("a", mon + 8),
        change("b", mon + 9),
        change("c", tue + 13),
        change("f", tue + 15.5),
        change("d", wed + 10),
        change("e", thu + 9),
    ]
    deployments = [
        deploy("D1", mon + 10, mon + 10.25),  # a, b (first deployment: 30-day lookback)
        deploy("D2", tue + 14, tue + 14.25),  # c
        deploy("D3", tue + 16, tue + 16.5, labels=["hotfix"], fixes="I1"),  # f
        deploy("D4", wed + 11, wed + 11 + 1 / 3, "failed"),  # d, but failed
        deploy("D5", thu + 10, thu + 10.5),  # d, e
    ]
    incidents = [incident("I1", tue + 15, tue + 17)]  # latest before: D2, 45 min earlier
    r = report(changes, deployments, incidents, win=window(0, 7 * 24))
    assert r["deployment_frequency"] == {
        "count": 4,  # D1 D2 D3 D5
        "per_day": 0.571429,  # 4 / 7
        "deploy_days": 3,  # Mon Tue Thu
        "deploy_days_per_week": 3.0,  # >= 3, and 4 / 3 per deploy-day < 2: daily
        "frequency_class": "daily",
        "band": "high",
    }
    lead = r["lead_time"]
    # 3,600 (f)  4,500 (b)  4,500 (c)  5,400 (e)  8,100 (a)  88,200 (d)
    assert (lead["n"], lead["p50_s"], lead["p90_s"], lead["mean_s"]) == (6, 4500, 88200, 19050)
    assert lead["band"] == "elite"
    cfr = r["change_failure_rate"]
    assert (cfr["failed"], cfr["n"], cfr["ci95"], cfr["band"]) == (
        2,
        5,
        [0.117621, 0.769276],
        "low",
    )
    recovery = r["recovery_time"]
    # D2: 15:00 -> 16:30 (D3 fixed I1 before it was resolved) = 5,400 s
    # D4: Wed 11:20 -> Thu 10:30 (D5 rolled forward) = 83,400 s
    assert (recovery["p50_s"], recovery["p90_s"], recovery["mean_s"]) == (5400, 83400, 44400)
    assert recovery["band"] == "high"
    assert (r["rework_rate"]["unplanned"], r["rework_rate"]["value"]) == (1, 0.2)
    assert r["quick_check"]["overall"] == 7.6  # (8 + 8 + 6 + 8 + 8) / 5
