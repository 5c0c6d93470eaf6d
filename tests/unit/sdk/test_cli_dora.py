"""`cortex dora` output: the table of a report, durations, the band gate."""

from __future__ import annotations

from typing import Any

from cortex_sdk.cli_dora import below, duration, render


def _metric(band: str | None, **values: Any) -> dict[str, Any]:
    return {"band": band, **values}


REPORT: dict[str, Any] = {
    "agency": "acme",
    "window": {"from": "2025-03-03T00:00:00Z", "to": "2025-03-10T00:00:00Z", "days": 7.0},
    "filter": {"service": "checkout", "environment": "production"},
    "linking": {"strategy": "latest_before"},
    "deployment_frequency": _metric("high", count=4, per_day=0.571429, frequency_class="daily"),
    "lead_time": _metric("elite", n=6, p50_s=4500.0, p90_s=88200.0),
    "change_failure_rate": _metric("low", value=0.4, ci95=[0.117621, 0.769276], n=5, failed=2),
    "recovery_time": _metric("high", n=2, p50_s=5400.0, p90_s=83400.0, unrecovered=0),
    "rework_rate": _metric(None, value=0.2, ci95=[0.036224, 0.624465], n=5, unplanned=1),
    "quick_check": {"overall": 7.6},
    "buckets": [],
}


def test_durations_read_like_a_human_wrote_them() -> None:
    assert [duration(s) for s in (None, 42, 4500, 5400, 88200, 3 * 86400)] == [
        "—",
        "42s",
        "1h 15m",
        "1h 30m",
        "1d 0h",
        "3d 0h",
    ]


def test_the_table_shows_every_metric_with_its_band() -> None:
    lines = render(REPORT).splitlines()
    assert lines[0].startswith("DORA · acme · checkout · production")
    rows = {line[:22].strip(): line for line in lines[3:]}
    assert rows["deployment frequency"].endswith("high")
    assert "4 (0.57/day, daily)" in rows["deployment frequency"]
    assert "p50 1h 15m · p90 1d 0h (n=6)" in rows["lead time"]
    assert rows["lead time"].endswith("elite")
    assert "40.0% [11.8%-76.9%] (2/5)" in rows["change failure rate"]
    assert rows["change failure rate"].endswith("low")
    assert rows["rework rate"].endswith("—")
    assert rows["quick check"].endswith("7.6 / 10")


def test_the_gate_names_the_metrics_below_the_band() -> None:
    assert below(REPORT, "low") == []
    assert below(REPORT, "medium") == ["change_failure_rate"]
    assert below(REPORT, "elite") == [
        "deployment_frequency",
        "change_failure_rate",
        "recovery_time",
    ]
