"""The Helm chart renders valid Kubernetes manifests for every component."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "cortex"
MODULES = {
    "gateway",
    "policy_engine",
    "metrics_collector",
    "rollout_orchestrator",
    "approval_workflow",
    "analytics",
}
VALUES: dict[str, Any] = {
    "database": {"url": "postgresql+asyncpg://cortex:pw@pg-rw:5432/cortex"},
    "bootstrapAdminKey": {"value": "cvc_0123456789ab_" + "A" * 43},
    "internalSecret": {"value": "chart-test-internal-secret-0123456789abcdef"},
    "secretsKey": {"value": "dGVzdC1vbmx5LXNlY3JldHMta2V5LTMyLWJ5dGVzISE="},
    "serviceMonitor": {"enabled": True},
    "ingress": {"enabled": True},
}


def render(values: dict[str, Any]) -> Iterator[dict[str, Any]]:
    chart = helm_python.Chart.load(str(CHART))
    out = chart.render(values, name="prod", namespace="cortex", is_install=True)
    for path, text in out.items():
        if not path.endswith(".txt"):
            yield from (doc for doc in yaml.safe_load_all(text) if doc)


def test_chart_lints_strictly() -> None:
    result = helm_python.lint(str(CHART), VALUES, strict=True)
    assert result["errors"] == []


def test_every_manifest_is_valid_kubernetes() -> None:
    docs = list(render(VALUES))
    for doc in docs:
        if doc["kind"] != "ServiceMonitor":  # a CRD: not in the bundled schemas
            kubernetes_validate.validate(doc, "1.30.0", strict=True)
    kinds = [d["kind"] for d in docs]
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert kinds.count(kind) == 6, kind


def test_each_process_gets_its_settings_probes_and_no_inline_secret() -> None:
    deployments = [d for d in render(VALUES) if d["kind"] == "Deployment"]
    assert {
        d["spec"]["template"]["spec"]["containers"][0]["command"][2] for d in deployments
    } == MODULES
    for d in deployments:
        container = d["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        db = next(e for name, e in env.items() if name.endswith("_DATABASE_URL"))
        assert "secretKeyRef" in db["valueFrom"]
        secret = next(e for name, e in env.items() if name.endswith("_INTERNAL_SECRET"))
        assert secret["valueFrom"]["secretKeyRef"]["key"] == "internal-secret"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    gateway = next(d for d in deployments if d["metadata"]["name"].endswith("gateway"))
    env = {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (
        env["CORTEX_GATEWAY_POLICY_ENGINE_URL"]["value"] == "http://prod-cortex-policy-engine:8101"
    )
    assert "secretKeyRef" in env["CORTEX_GATEWAY_BOOTSTRAP_ADMIN_KEY"]["valueFrom"]
    assert env["CORTEX_GATEWAY_SECRETS_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "secrets-key"


def test_missing_database_is_a_clear_error() -> None:
    with pytest.raises(helm_python.HelmError, match=r"database\.url"):
        list(render({}))


def test_missing_internal_secret_is_a_clear_error() -> None:
    values = {k: v for k, v in VALUES.items() if k != "internalSecret"}
    with pytest.raises(helm_python.HelmError, match=r"internalSecret\.value"):
        list(render(values))


def test_missing_secrets_key_is_a_clear_error() -> None:
    values = {k: v for k, v in VALUES.items() if k != "secretsKey"}
    with pytest.raises(helm_python.HelmError, match=r"secretsKey\.value"):
        list(render(values))


def test_the_internal_secret_can_come_from_an_existing_secret() -> None:
    values = {**VALUES, "internalSecret": {"existingSecret": "cluster-hmac"}}
    docs = list(render(values))
    for d in (d for d in docs if d["kind"] == "Deployment"):
        env = d["spec"]["template"]["spec"]["containers"][0]["env"]
        secret = next(e for e in env if e["name"].endswith("_INTERNAL_SECRET"))
        assert secret["valueFrom"]["secretKeyRef"]["name"] == "cluster-hmac"
    chart_secret = next(d for d in docs if d["kind"] == "Secret")
    assert "internal-secret" not in chart_secret["stringData"]


def _policies(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    docs = [d for d in render(values) if d["kind"] == "NetworkPolicy"]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    return {d["metadata"]["name"].removeprefix("prod-cortex-"): d["spec"] for d in docs}


PROMETHEUS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}
GATEWAY_PEER = {
    "podSelector": {
        "matchLabels": {"app.kubernetes.io/instance": "prod", "app.kubernetes.io/name": "gateway"}
    }
}


def test_services_take_traffic_only_from_the_gateway_and_prometheus() -> None:
    policies = _policies(VALUES)
    services = set(policies) - {"gateway"}
    assert services == {
        "policy-engine",
        "metrics-collector",
        "rollout-orchestrator",
        "approval-workflow",
        "analytics",
    }
    for name in services:
        spec = policies[name]
        assert spec["policyTypes"] == ["Ingress"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == name
        peers = [peer for rule in spec["ingress"] for peer in rule["from"]]
        assert peers == [GATEWAY_PEER, PROMETHEUS_PEER], name


def test_the_gateway_takes_traffic_from_anywhere_or_from_the_configured_cidrs() -> None:
    open_rule, scrape = _policies(VALUES)["gateway"]["ingress"]
    assert "from" not in open_rule  # any source, on its http port
    assert scrape["from"] == [PROMETHEUS_PEER]
    narrowed = {**VALUES, "networkPolicy": {"gatewayIngressCIDRs": ["10.0.0.0/8"]}}
    rule = _policies(narrowed)["gateway"]["ingress"][0]
    assert rule["from"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]


def test_nats_and_postgres_take_clients_only_from_the_release_pods_when_selected() -> None:
    assert {"nats", "postgres"}.isdisjoint(_policies(VALUES))  # not selected: no policy
    selected = {
        **VALUES,
        "networkPolicy": {
            "nats": {"podSelector": {"app.kubernetes.io/name": "nats"}},
            "postgres": {"podSelector": {"cnpg.io/cluster": "pg"}, "ports": [5432]},
        },
    }
    policies = _policies(selected)
    clients, peers = policies["postgres"]["ingress"]
    assert clients["ports"] == [{"port": 5432, "protocol": "TCP"}]
    assert clients["from"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/instance": "prod",
                    "app.kubernetes.io/part-of": "cortex",
                }
            }
        }
    ]
    assert peers["from"] == [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "pg"}}}]
    assert policies["nats"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "nats"}}


def test_network_policies_can_be_turned_off() -> None:
    assert _policies({**VALUES, "networkPolicy": {"enabled": False}}) == {}
