"""gate_verdict: pass, fail or inconclusive, with its evidence, and missing data as configured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout_orchestrator.domain.gate import Observation, Reading, Verdict, gate_verdict
from rollout_orchestrator.domain.plan import HealthGate

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
BATCH = [f"a{i}" for i in range(10)]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def gate(**overrides: Any) -> HealthGate:
    values: dict[str, Any] = {"min_healthy_ratio": 0.7, "observation_s": 60, **overrides}
    return HealthGate.model_validate(values)


def readings(healthy: int, unhealthy: int, when: float = 10) -> list[Reading]:
    up = [Reading(a, at(when), True) for a in BATCH[:healthy]]
    down = [Reading(a, at(when), False) for a in BATCH[healthy : healthy + unhealthy]]
    return up + down


def verdict(g: HealthGate, rs: list[Reading], now: float, batch: list[str] = BATCH) -> Verdict:
    return gate_verdict(g, Observation(batch, rs, started_at=T0, now=at(now)))


def test_passes_after_the_window_with_the_ratio_met_exactly() -> None:
    v = verdict(gate(), readings(7, 3), now=60)  # 7 / 10 = 0.7: 0.7 * 10 is not 7 in floats
    assert (v.outcome, v.reason) == ("pass", "healthy")
    e = v.evidence
    assert (e.healthy, e.failed, e.sampled, e.batch_size) == (7, 3, 10, 10)
    assert (e.threshold, e.window_start, e.window_end) == (0.7, T0, at(60))


def test_observing_until_the_window_ends() -> None:
    v = verdict(gate(), readings(10, 0), now=59)
    assert (v.outcome, v.reason) == ("inconclusive", "observing")


def test_fails_early_once_the_ratio_cannot_be_met() -> None:
    v = verdict(gate(), readings(6, 4), now=20)
    assert (v.outcome, v.reason) == ("fail", "unhealthy")
    assert (v.evidence.healthy, v.evidence.failed, v.evidence.sampled) == (6, 4, 10)


def test_an_agent_fails_only_after_consecutive_unhealthy_readings() -> None:
    g = gate(consecutive_failures=2)
    once = readings(6, 4, when=10)
    v = verdict(g, once, now=20)
    assert (v.outcome, v.reason, v.evidence.failed) == ("inconclusive", "observing", 0)
    twice = once + readings(6, 4, when=15)
    v = verdict(g, twice, now=20)
    assert (v.outcome, v.reason, v.evidence.failed) == ("fail", "unhealthy", 4)


def test_a_recovered_agent_counts_healthy() -> None:
    rs = [*readings(6, 4, when=10), *(Reading(a, at(30), True) for a in BATCH[6:])]
    v = verdict(gate(consecutive_failures=3), rs, now=60)
    assert (v.outcome, v.evidence.healthy) == ("pass", 10)


def test_unconfirmed_failures_wait_up_to_the_hold_limit_then_fail() -> None:
    g = gate(consecutive_failures=3, hold_limit_s=100)
    rs = readings(6, 4)
    assert verdict(g, rs, now=60).reason == "unconfirmed"
    assert verdict(g, rs, now=159).outcome == "inconclusive"
    v = verdict(g, rs, now=160)
    assert (v.outcome, v.reason) == ("fail", "unconfirmed_timeout")


def test_readings_outside_the_window_or_the_batch_are_ignored() -> None:
    rs = [
        Reading("a0", at(-5), False),  # before the batch was applied
        Reading("a1", at(500), False),  # after now
        Reading("stranger", at(10), False),  # not in the batch
        Reading("a2", at(10), True),
    ]
    v = verdict(gate(min_healthy_ratio=1.0), rs, now=60)
    assert (v.outcome, v.evidence.sampled, v.evidence.healthy) == ("pass", 1, 1)


def test_the_latest_reading_of_an_agent_decides_whatever_the_order_given() -> None:
    rs = [Reading("a0", at(30), True), Reading("a0", at(10), False)]
    v = verdict(gate(min_healthy_ratio=1.0), rs, now=60, batch=["a0"])
    assert (v.outcome, v.evidence.healthy) == ("pass", 1)


@pytest.mark.parametrize("missing", ["hold", "extend", "fail"])
def test_no_data_yet_waits_while_the_window_is_open(missing: str) -> None:
    v = verdict(gate(missing_data=missing), [], now=30)
    assert (v.outcome, v.reason, v.evidence.sampled) == ("inconclusive", "awaiting_data", 0)


def test_no_data_with_fail_fails_when_the_window_ends() -> None:
    v = verdict(gate(missing_data="fail"), [], now=60)
    assert (v.outcome, v.reason) == ("fail", "insufficient_data")


def test_no_data_with_hold_holds_up_to_the_hold_limit_then_fails() -> None:
    g = gate(missing_data="hold", hold_limit_s=300)
    v = verdict(g, [], now=60)
    assert (v.outcome, v.reason) == ("inconclusive", "holding_for_data")
    assert verdict(g, [], now=359).reason == "holding_for_data"
    v = verdict(g, [], now=360)
    assert (v.outcome, v.reason) == ("fail", "insufficient_data")


def test_no_data_with_extend_extends_the_window_once_then_fails() -> None:
    g = gate(missing_data="extend", hold_limit_s=1000)
    v = verdict(g, [], now=60)
    assert (v.outcome, v.reason, v.evidence.window_end) == (
        "inconclusive",
        "window_extended",
        at(120),
    )
    v = verdict(g, [], now=120)
    assert (v.outcome, v.reason) == ("fail", "insufficient_data")


def test_data_arriving_while_held_decides() -> None:
    g = gate(missing_data="hold", min_sample=5)
    assert verdict(g, readings(4, 0), now=70).reason == "holding_for_data"
    v = verdict(g, readings(5, 0, when=65), now=70)
    assert (v.outcome, v.reason, v.evidence.sampled) == ("pass", "healthy", 5)


def test_fewer_sampled_agents_than_min_sample_is_missing_data() -> None:
    v = verdict(gate(min_sample=3, missing_data="fail"), readings(2, 0), now=60)
    assert (v.outcome, v.reason, v.evidence.min_sample) == ("fail", "insufficient_data", 3)
