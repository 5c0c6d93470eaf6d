"""Grafana dashboards and Prometheus rules: fresh, and valid PromQL (checked by promtool)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus"
sys.path.insert(0, str(ROOT / "scripts"))

import gen_dashboards  # noqa: E402


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", "cortex-rules.yaml", cwd=RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "cortex-rules.test.yaml", cwd=RULES)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_dashboards_are_generated_from_the_script() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    exprs = gen_dashboards.expressions()
    assert len(exprs) >= 15
    rules = {
        "groups": [
            {
                "name": "panels",
                "rules": [{"record": f"panel:{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    # Grafana variables are not PromQL: give them a value before checking.
    text = yaml.safe_dump(rules).replace("$agency", ".*").replace("$service", ".*")
    (tmp_path / "panels.yaml").write_text(text.replace("$environment", ".*"))
    checked = promtool("check", "rules", "panels.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_broken_query_is_caught(tmp_path: Path) -> None:
    bad = {"groups": [{"name": "x", "rules": [{"record": "x:y", "expr": "sum by (a (b)"}]}]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    assert promtool("check", "rules", "bad.yaml", cwd=tmp_path).returncode != 0
