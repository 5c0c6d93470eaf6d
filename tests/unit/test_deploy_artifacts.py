"""The deployment artifacts stay in step with the code."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_k8s_stream_definitions_match_the_contracts() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_k8s_streams.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_every_process_with_its_own_settings_prefix() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    modules = {
        "gateway": "CORTEX_GATEWAY_",
        "policy_engine": "CORTEX_POLICY_ENGINE_",
        "metrics_collector": "CORTEX_METRICS_COLLECTOR_",
        "rollout_orchestrator": "CORTEX_ROLLOUT_ORCHESTRATOR_",
        "approval_workflow": "CORTEX_APPROVAL_WORKFLOW_",
        "analytics": "CORTEX_ANALYTICS_",
    }
    for module, prefix in modules.items():
        name = module.replace("_", "-")
        svc = services[name]
        assert svc["command"] == ["python", "-m", module]
        assert importlib.util.find_spec(f"{module}.__main__") is not None
        settings = importlib.import_module(f"{module}.settings").Settings
        assert settings.model_config["env_prefix"] == prefix
        assert all(key.startswith(prefix) for key in svc["environment"])
        assert f"{prefix}DATABASE_URL" in svc["environment"]
        assert f"{prefix}NATS_URL" in svc["environment"]
