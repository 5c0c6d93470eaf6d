"""Write the Grafana dashboards in deploy/grafana/ (JSON, provisioning-ready).

    .venv/bin/python scripts/gen_dashboards.py [--check]

Every panel query is PromQL over the series the processes export; tests check the syntax with
promtool and that every series exists on a running cluster.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "deploy" / "grafana"
SLICE = 'agency=~"$agency", service=~"$service", environment=~"$environment"'
DS = {"type": "prometheus", "uid": "${datasource}"}


def _panel(
    title: str, expr: str, unit: str, *, kind: str = "timeseries", legend: str = ""
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": "A", "expr": expr, "legendFormat": legend or "__auto"}],
    }


def _layout(panels: list[dict[str, Any]], width: int = 8, height: int = 8) -> list[dict[str, Any]]:
    per_row = 24 // width
    for i, panel in enumerate(panels):
        panel["id"] = i + 1
        panel["gridPos"] = {
            "x": (i % per_row) * width,
            "y": (i // per_row) * height,
            "w": width,
            "h": height,
        }
    return panels


def _variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": DS,
        "query": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {},
    }


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-30d", "to": "now"},
        "refresh": "1m",
        "tags": ["cortex"],
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "current": {}},
                *variables,
            ]
        },
        "panels": _layout(panels),
    }


def dora() -> dict[str, Any]:
    by = "max by (agency, service, environment)"
    panels = [
        _panel(
            "Deployments per day", f"{by} (cortex_dora_deployments_per_day{{{SLICE}}})", "short"
        ),
        _panel("Lead time p50", f"{by} (cortex_dora_lead_time_p50_seconds{{{SLICE}}})", "s"),
        _panel("Lead time p90", f"{by} (cortex_dora_lead_time_p90_seconds{{{SLICE}}})", "s"),
        _panel(
            "Change failure rate",
            f"{by} (cortex_dora_change_failure_rate{{{SLICE}}})",
            "percentunit",
        ),
        _panel(
            "Recovery time p50", f"{by} (cortex_dora_recovery_time_p50_seconds{{{SLICE}}})", "s"
        ),
        _panel("Rework rate", f"{by} (cortex_dora_rework_rate{{{SLICE}}})", "percentunit"),
        _panel(
            "DORA band (4 elite … 1 low)",
            f"max by (service, metric) (cortex_dora_band{{{SLICE}}})",
            "short",
            kind="stat",
            legend="{{service}} {{metric}}",
        ),
        _panel(
            "Quick-check score (0-10)",
            f"{by} (cortex_dora_quick_check_score{{{SLICE}}})",
            "short",
            kind="stat",
        ),
        _panel(
            "Deployments (all time)", f"{by} (cortex_dora_deployments_total{{{SLICE}}})", "short"
        ),
    ]
    variables = [
        _variable("agency", "label_values(cortex_dora_deployments_per_day, agency)"),
        _variable(
            "service", 'label_values(cortex_dora_deployments_per_day{agency=~"$agency"}, service)'
        ),
        _variable(
            "environment",
            'label_values(cortex_dora_deployments_per_day{agency=~"$agency"}, environment)',
        ),
    ]
    return _dashboard("cortex-dora", "CodeValdCortex — DORA", panels, variables)


def platform() -> dict[str, Any]:
    svc = 'service=~"$service"'
    panels = [
        _panel(
            "Requests/s by status",
            f"sum by (service, status) (rate(cortex_http_requests_total{{{svc}}}[5m]))",
            "reqps",
        ),
        _panel(
            "HTTP p99 latency",
            f"histogram_quantile(0.99, sum by (service, le) (rate(cortex_http_request_duration_seconds_bucket{{{svc}}}[5m])))",
            "s",
        ),
        _panel(
            "5xx ratio",
            f'sum by (service) (rate(cortex_http_requests_total{{{svc}, status=~"5.."}}[5m])) / sum by (service) (rate(cortex_http_requests_total{{{svc}}}[5m]))',
            "percentunit",
        ),
        _panel("Outbox backlog", f"max by (service) (cortex_outbox_backlog{{{svc}}})", "short"),
        _panel(
            "Events published/s",
            f"sum by (service) (rate(cortex_outbox_published_total{{{svc}}}[5m]))",
            "short",
        ),
        _panel(
            "Consumer lag",
            f"max by (service, consumer) (cortex_consumer_pending_messages{{{svc}}})",
            "short",
        ),
        _panel(
            "Messages by outcome/s",
            f"sum by (consumer, outcome) (rate(cortex_consumer_messages_total{{{svc}}}[5m]))",
            "short",
        ),
        _panel(
            "Authorize decisions/s",
            "sum by (decision) (rate(cortex_policy_decisions_total[5m]))",
            "short",
        ),
        _panel(
            "Authorize p99 (in service)",
            "histogram_quantile(0.99, sum by (le) (rate(cortex_policy_authorize_duration_seconds_bucket[5m])))",
            "s",
        ),
        _panel(
            "Agency budget used",
            "max by (agency, period, unit) (cortex_policy_budget_used) / max by (agency, period, unit) (cortex_policy_budget_limit)",
            "percentunit",
        ),
    ]
    variables = [_variable("service", "label_values(cortex_http_requests_total, service)")]
    return _dashboard("cortex-platform", "CodeValdCortex — platform", panels, variables)


DASHBOARDS = {"cortex-dora.json": dora, "cortex-platform.json": platform}


def expressions() -> list[str]:
    """Every PromQL expression of every dashboard (panels and variables)."""
    return [
        target["expr"]
        for build in DASHBOARDS.values()
        for panel in build()["panels"]
        for target in panel["targets"]
    ]


def main() -> int:
    stale = []
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), indent=2) + "\n"
        path = OUT / name
        if "--check" in sys.argv:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    for path in stale:
        print(f"stale: {path} (run scripts/gen_dashboards.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
