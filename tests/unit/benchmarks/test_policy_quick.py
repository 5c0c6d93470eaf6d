"""Smoke run of `python -m benchmarks policy --quick`: the result's shape, every required metric,
and the Cedar cross-check (the suite exits non-zero when a decision differs from Cedar's).

One run of the suite (a module-scoped fixture) serves every test here. No timing is asserted:
figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.common import validate_result

pytestmark = pytest.mark.slow  # one run of the suite serves every test here

ROOT = Path(__file__).resolve().parents[3]
REQUIRED = (
    "decision_p50_us_20",
    "decision_p99_us_20",
    "decision_p99_us_100",
    "cedarpy_p99_us_20",
    "speedup_vs_cedarpy",
    "pii_p99_ms_1kb",
    "presidio_p99_ms_1kb",
    "speedup_vs_presidio",
    "pii_recall_structured",
    "presidio_recall_structured",
    "authorize_http_p99_ms_c1",
    "authorize_http_rps_c16",
    # extras the suite promises
    "decisions_per_s_20",
    "decisions_per_s_100",
    "authorize_http_p99_ms_c1_budget",
    "healthz_rps_c16",
    "authorize_vs_healthz_ratio",
    "cedar_crosscheck_requests",
    "cedar_crosscheck_mismatches",
)
TARGETS = {
    "decision_p99_us_20": (50, "lower"),
    "speedup_vs_cedarpy": (10, "higher"),
    "pii_p99_ms_1kb": (2, "lower"),
    "speedup_vs_presidio": (3, "higher"),
    "authorize_http_p99_ms_c1": (2, "lower"),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench") / "policy.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "policy", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    return done, out


@pytest.fixture(scope="module")
def result(run: tuple[subprocess.CompletedProcess[str], Path]) -> dict[str, Any]:
    done, out = run
    assert done.returncode == 0, done.stdout + done.stderr
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


@pytest.mark.timeout(180)
def test_quick_policy_run_writes_a_valid_result(result: dict[str, Any]) -> None:
    assert validate_result(result, required=REQUIRED) == []
    assert result["suite"] == "policy"
    assert result["quick"] is True
    assert result["machine"]["cpu_count"] >= 1
    for name in REQUIRED:
        value = result["metrics"][name]["value"]
        assert isinstance(value, int | float), name
        assert not isinstance(value, bool), name
        assert math.isfinite(value), name


@pytest.mark.timeout(180)
def test_targets_and_directions_are_the_documented_ones(result: dict[str, Any]) -> None:
    metrics = result["metrics"]
    for name, (target, better) in TARGETS.items():
        assert metrics[name]["target"] == target, name
        assert metrics[name]["better"] == better, name


@pytest.mark.timeout(180)
def test_cedar_cross_check_passed(
    run: tuple[subprocess.CompletedProcess[str], Path], result: dict[str, Any]
) -> None:
    metrics = result["metrics"]
    assert metrics["cedar_crosscheck_mismatches"]["value"] == 0
    assert metrics["cedar_crosscheck_requests"]["value"] > 0
    log = run[0].stderr
    assert "equal in Cedar (20 forbid policies" in log, log
    assert "equal in Cedar (100 forbid policies" in log, log
