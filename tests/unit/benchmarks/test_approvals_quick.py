"""Smoke run of `python -m benchmarks approvals --quick`: the result's shape, its metric names,
and that no timer fired twice with two replicas running.

No timing is asserted: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import validate_result

ROOT = Path(__file__).resolve().parents[3]
REQUIRED = (
    "decide_to_event_p99_ms",
    "list_p95_ms_100k",
    "expiry_lateness_p99_ms_10k",
    "timers_fired_twice",
    "list_vs_healthz_p95_ratio",
    "decide_to_event_vs_decide_http_p99_ratio",
    "timers_lost",
)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_approvals_run_writes_a_valid_result_and_fires_no_timer_twice(
    tmp_path: Path,
) -> None:
    out = tmp_path / "approvals.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "approvals", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert validate_result(result, required=REQUIRED) == []
    assert (result["suite"], result["quick"]) == ("approvals", True)
    metrics = result["metrics"]
    assert {name: metrics[name]["target"] for name in REQUIRED[:4]} == {
        "decide_to_event_p99_ms": 250,
        "list_p95_ms_100k": 50,
        "expiry_lateness_p99_ms_10k": 1000,
        "timers_fired_twice": 0,
    }
    assert metrics["timers_fired_twice"]["value"] == 0
    assert metrics["timers_lost"]["value"] == 0
    assert metrics["expiry_events_heard"]["value"] == 2_000  # every timer of the quick run
    assert metrics["stored_requests"]["value"] == 10_000
