"""The health gate of one batch: pass, fail or inconclusive, from the health readings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from rollout_orchestrator.domain.plan import HealthGate

Outcome = Literal["pass", "fail", "inconclusive"]
Reason = Literal[
    "healthy",  # pass: the window is over and enough sampled agents are healthy
    "unhealthy",  # fail: too many agents failed (consecutive unhealthy readings) to reach it
    "observing",  # inconclusive: the window is not over yet
    "awaiting_data",  # inconclusive: fewer readings than min_sample, the window not over
    "holding_for_data",  # inconclusive: missing_data=hold, within hold_limit_s after the window
    "window_extended",  # inconclusive: missing_data=extend, within one more observation_s
    "insufficient_data",  # fail: missing_data=fail, or the hold or extension ran out
    "unconfirmed",  # inconclusive: unhealthy agents not (yet) failed, within hold_limit_s
    "unconfirmed_timeout",  # fail: still unconfirmed hold_limit_s after the window
]


@dataclass(frozen=True, slots=True)
class Reading:
    """One health report of one agent (a heartbeat's ``healthy``)."""

    agent_id: str
    at: datetime
    healthy: bool


@dataclass(frozen=True, slots=True)
class Observation:
    """What the gate looks at: the batch's agents, their readings, and since when."""

    batch: Sequence[str]
    readings: Sequence[Reading]
    started_at: datetime  # when the batch was applied: the observation window opens
    now: datetime


@dataclass(frozen=True, slots=True)
class Evidence:
    healthy: int  # sampled agents whose latest reading is healthy
    failed: int  # sampled agents whose last `consecutive_failures` readings are unhealthy
    sampled: int  # agents of the batch with at least one reading in the window
    batch_size: int
    threshold: float  # min_healthy_ratio
    min_sample: int
    consecutive_failures: int
    window_start: datetime
    window_end: datetime  # started_at + observation_s (extended: one more observation_s)


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reason: Reason
    evidence: Evidence


def _ratio_at_least(count: int, total: int, ratio: float) -> bool:
    """``count / total >= ratio`` in integers (0.7 * 10 is 7.000000000000001 in floats)."""
    return count * 1_000_000 >= round(ratio * 1_000_000) * total


def _states(gate: HealthGate, obs: Observation) -> tuple[int, int, int]:
    """(healthy, failed, sampled) over the readings of the batch in [started_at, now]."""
    members = set(obs.batch)
    series: dict[str, list[Reading]] = {}
    for reading in obs.readings:
        if reading.agent_id in members and obs.started_at <= reading.at <= obs.now:
            series.setdefault(reading.agent_id, []).append(reading)
    healthy = failed = 0
    k = gate.consecutive_failures
    for readings in series.values():
        readings.sort(key=lambda r: r.at)
        if readings[-1].healthy:
            healthy += 1
        elif len(readings) >= k and not any(r.healthy for r in readings[-k:]):
            failed += 1
    return healthy, failed, len(series)


def gate_verdict(gate: HealthGate, obs: Observation) -> Verdict:
    """The gate's verdict on one batch now.

    An agent counts by its readings inside the window ``[started_at, now]``: healthy when its
    latest is; failed when its last ``consecutive_failures`` are all unhealthy; otherwise
    unconfirmed. With fewer than ``min_sample`` sampled agents the data is missing: before the
    window ends the gate waits (``awaiting_data``); after, ``missing_data`` decides —
    ``fail`` at once, ``extend`` one more ``observation_s``, ``hold`` up to ``hold_limit_s`` —
    then ``insufficient_data``. With enough data it fails as soon as the failed agents leave
    fewer than ``min_healthy_ratio`` of the sampled ones possible, passes once the window is
    over with at least that ratio healthy, and otherwise waits for the unconfirmed agents up to
    ``hold_limit_s`` after the window (``unconfirmed_timeout``)."""
    window = timedelta(seconds=gate.observation_s)
    end = obs.started_at + window
    if gate.missing_data == "extend":
        grace = window
    elif gate.missing_data == "hold":
        grace = timedelta(seconds=gate.hold_limit_s)
    else:
        grace = timedelta(0)
    healthy, failed, sampled = _states(gate, obs)
    enough = sampled >= gate.min_sample
    extended = not enough and gate.missing_data == "extend" and obs.now >= end

    def verdict(outcome: Outcome, reason: Reason) -> Verdict:
        evidence = Evidence(
            healthy=healthy,
            failed=failed,
            sampled=sampled,
            batch_size=len(set(obs.batch)),
            threshold=gate.min_healthy_ratio,
            min_sample=gate.min_sample,
            consecutive_failures=gate.consecutive_failures,
            window_start=obs.started_at,
            window_end=end + window if extended else end,
        )
        return Verdict(outcome, reason, evidence)

    if not enough:
        if obs.now < end:
            return verdict("inconclusive", "awaiting_data")
        if obs.now < end + grace:
            reason: Reason = (
                "window_extended" if gate.missing_data == "extend" else "holding_for_data"
            )
            return verdict("inconclusive", reason)
        return verdict("fail", "insufficient_data")
    # Healthy-or-unconfirmed below the ratio: no later reading of the window can pass it.
    if not _ratio_at_least(sampled - failed, sampled, gate.min_healthy_ratio):
        return verdict("fail", "unhealthy")
    if obs.now < end:
        return verdict("inconclusive", "observing")
    if _ratio_at_least(healthy, sampled, gate.min_healthy_ratio):
        return verdict("pass", "healthy")
    if obs.now < end + timedelta(seconds=gate.hold_limit_s):
        return verdict("inconclusive", "unconfirmed")
    return verdict("fail", "unconfirmed_timeout")
