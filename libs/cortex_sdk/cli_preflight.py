"""`cortex preflight -f plan.yaml`: what a deployment plan would meet, before deploying it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cortex_sdk.cli_api import api_errors, connection_options, emit
from cortex_sdk.cli_context import EXIT_FAILED, EXIT_NEEDS_APPROVAL, EXIT_OK, CliState, pass_state
from cortex_sdk.client import CortexClient

EXIT_OF = {"pass": EXIT_OK, "fail": EXIT_FAILED, "needs_approval": EXIT_NEEDS_APPROVAL}


def _read(path: str) -> tuple[str, str]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    media = "application/json" if path.endswith(".json") else "application/yaml"
    return text, media


def _finding(f: dict[str, Any]) -> list[str]:
    where = f["source"] + (f", rule {f['rule_id']}" if f.get("rule_id") else "")
    values = ""
    if f.get("actual") is not None or f.get("limit") is not None:
        values = f" (actual {f.get('actual')}, limit {f.get('limit')})"
    return [
        f"  [{f['severity']}] {f['code']} ({where}): {f['message']}{values}",
        f"      fix: {f['remediation']}",
        f"      docs: {f['docs_url']}",
    ]


def _batches(plan: dict[str, Any] | None) -> list[str]:
    if not plan:
        return ["batches: none (no batch plan could be made)"]
    lines = [f"batches: {len(plan['batches'])} for {plan['agents_total']} agent(s)"]
    for batch in plan["batches"]:
        shown = ", ".join(batch["agent_ids"][:8]) + (" …" if batch["size"] > 8 else "")
        lines.append(f"  #{batch['index']} {batch['size']:>4} agent(s): {shown}")
    return lines


def render(report: dict[str, Any]) -> str:
    """The human report: verdict, what creation would answer, findings with fixes, batches."""
    risk = report.get("risk_score")
    head = f"verdict: {report['verdict']}" + (f" (risk {risk:.2f})" if risk is not None else "")
    enforced = report["enforcement"]
    would = f"deploy would: {enforced['status']}"
    if enforced.get("code"):
        would += f" ({enforced['http_status']} {enforced['code']})"
    lines = [head, would]
    findings = report["findings"]
    lines.append(f"findings: {len(findings)}" if findings else "findings: none")
    for finding in findings:
        lines += _finding(finding)
    lines += _batches(report.get("plan"))
    if report.get("conflicts"):
        lines.append("conflicts:")
        lines += [f"  {c['agent_id']} in {c['deployment_id']}" for c in report["conflicts"]]
    return "\n".join(lines)


@click.command("preflight")
@click.option("-f", "--file", "path", required=True, help="Deployment plan YAML/JSON file, or -.")
@click.option("--agency", default=None, help="Agency slug (org-wide keys only).")
@click.option("--json", "json_flag", is_flag=True, help="Machine-readable JSON output.")
@connection_options
@pass_state
@api_errors
def preflight(
    state: CliState,
    path: str,
    agency: str | None,
    json_flag: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """What `cortex deploy -f PLAN` would meet: exit 0 pass, 2 fail, 3 needs approval."""
    text, media = _read(path)
    report = CortexClient.from_env(url, api_key).preflight(text, media, agency)
    emit(CliState(json_output=state.json_output or json_flag), report, render(report))
    return EXIT_OF[report["verdict"]]
