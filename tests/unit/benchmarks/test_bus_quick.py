"""Smoke run of `python -m benchmarks bus --quick`: the result's shape and no lost event.

No timing is asserted: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.common import validate_result

ROOT = Path(__file__).resolve().parents[3]
REQUIRED = ("events_per_s", "e2e_latency_p50_ms", "e2e_latency_p99_ms", "lost_events")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_bus_run_writes_a_valid_result_and_loses_no_event(tmp_path: Path) -> None:
    out = tmp_path / "bus.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "bus", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert validate_result(result, required=REQUIRED) == []
    assert result["suite"] == "bus"
    assert result["quick"] is True
    assert result["machine"]["cpu_count"] >= 1
    metrics = result["metrics"]
    assert metrics["events_per_s"]["target"] == 10_000
    assert metrics["events_per_s"]["better"] == "higher"
    assert metrics["e2e_latency_p99_ms"]["target"] == 250
    assert metrics["e2e_latency_p99_ms"]["better"] == "lower"
    assert "baseline_raw_js_events_per_s" in metrics
    assert "ratio_vs_raw_js" in metrics
    assert metrics["lost_events"]["value"] == 0
    assert metrics["duplicate_events"]["value"] == 0


def test_unknown_suite_exits_2_naming_the_suites(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-suite"]) == 2
    err = capsys.readouterr().err
    assert "no-such-suite" in err
    assert "bus" in err
