"""Smoke run of `python -m benchmarks dora --quick`: the result's shape and its metric names.

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
    "ingest_events_per_s",
    "freshness_p99_ms",
    "query_p95_ms_service",
    "query_p95_ms_org",
    "baseline_uncached_query_p95_ms_service",
    "speedup_vs_uncached_service",
    "ingest_nats_batch_events_per_s",
    "ingest_nats_single_events_per_s",
)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_dora_run_writes_a_valid_result_with_the_suites_metrics(tmp_path: Path) -> None:
    out = tmp_path / "dora.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "dora", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert validate_result(result, required=REQUIRED) == []
    assert (result["suite"], result["quick"]) == ("dora", True)
    metrics = result["metrics"]
    targets = {name: metrics[name]["target"] for name in REQUIRED[:4]}
    assert targets == {
        "ingest_events_per_s": 10_000,
        "freshness_p99_ms": 1000,
        "query_p95_ms_service": 100,
        "query_p95_ms_org": 500,
    }
    assert metrics["ingest_events_per_s"]["better"] == "higher"
    assert metrics["history_facts"]["value"] == 61_000  # 1 % of the full history
    assert metrics["ingest_nats_batch_events_per_s"]["target"] == 10_000
