"""Smoke run of `python -m benchmarks gateway --quick`, with this checkout as its own baseline.

No timing is asserted: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import validate_result

ROOT = Path(__file__).resolve().parents[3]
REQUIRED = (
    "authorize_rps_c16",
    "authorize_p99_ms_c16",
    "gateway_overhead_ratio",
    "cerbos_rps_c16",
    "cerbos_p99_ms_c16",
    "ratio_vs_cerbos",
)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_gateway_run_measures_a_baseline_checkout_in_the_same_run(tmp_path: Path) -> None:
    out = tmp_path / "gateway.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "gateway", "--quick", "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "CORTEX_BENCH_BASELINE_SOURCE": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert validate_result(result, required=REQUIRED) == []
    assert (result["suite"], result["quick"]) == ("gateway", True)
    metrics = result["metrics"]
    for name in ("authorize_rps_c16", "direct_authorize_rps_c16", "healthz_rps_c16"):
        assert metrics[name]["value"] > 0
        assert metrics[f"baseline_{name}"]["value"] > 0
    assert metrics["gateway_overhead_ratio"]["value"] > 0
    assert metrics["authorize_rps_c16_vs_baseline"]["value"] == pytest.approx(
        metrics["authorize_rps_c16"]["value"] / metrics["baseline_authorize_rps_c16"]["value"],
        rel=0.01,
    )
    # Cerbos, the peer, in the same run (the suite fails when a decision differs from its)
    assert metrics["cerbos_rps_c16"]["value"] > 0
    assert metrics["ratio_vs_cerbos"]["value"] == pytest.approx(
        metrics["authorize_rps_c16"]["value"] / metrics["cerbos_rps_c16"]["value"], rel=0.01
    )
    assert "[current cerbos_c16]" in done.stderr
    assert "[baseline authorize_c16]" in done.stderr
    assert "[current authorize_c16]" in done.stderr
