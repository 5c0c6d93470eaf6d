"""`cortex trail ID [--postmortem] [--json]`: the linked record of one change from any of its ids
(a deployment, its approval, its decision, an incident naming it), or the Markdown postmortem
draft of a failed or rolled-back deployment (docs/api.md "Trail").

Exit codes: 0 with the trail or the draft; 2 when a postmortem is refused (the deployment did
not fail, the trail has no deployment); 1 for an unknown id, a usage or transport error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from cortex_sdk.cli_api import api_errors, connection_options
from cortex_sdk.cli_context import EXIT_OK, CliState, pass_state
from cortex_sdk.cli_dora import duration
from cortex_sdk.client import CortexClient


def _absent(element: Mapping[str, Any]) -> str | None:
    """How an element that has no value is shown (None when it has one)."""
    if element.get("value") is not None:
        return None
    if element["state"] == "none":
        return "none" + (f" ({element['reason']})" if element.get("reason") else "")
    return f"{element['state']}: {element.get('reason') or '?'}"


def _deployment(run: Mapping[str, Any]) -> str:
    return (
        f"{run['id']}  {run['service']} {run['revision']} → {run['environment']}  "
        f"{run['status']}  (by {run['actor']})"
    )


def _decision(d: Mapping[str, Any]) -> str:
    verdict = d.get("verdict") or d.get("decision")
    rules = sorted({str(r["rule_id"]) for r in d.get("reasons") or [] if r.get("rule_id")})
    return (
        f"{d.get('id') or d.get('decision_id')}  {verdict}  risk {d.get('risk_score')}  "
        f"policy {d.get('policy_version')}  rules: {', '.join(rules) or 'none'}"
    )


def _approval(a: Mapping[str, Any]) -> str:
    who = ", ".join(v["approver"] for v in a.get("trail") or []) or "nobody"
    return f"{a['id']}  {a['status']}  by {who}  waited {duration(a.get('queue_seconds'))}"


def _batch(b: Mapping[str, Any]) -> str:
    verdict = b.get("verdict") or {}
    e = verdict.get("evidence") or {}
    seen = f" ({e['healthy']}/{e['sampled']} healthy, threshold {e['threshold']:.0%})" if e else ""
    return f"#{b['index']} {b['status']}{seen}"


def _run_lines(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    lines = [("batches", " · ".join(_batch(b) for b in run.get("batches") or []) or "none")]
    lines += [
        (
            "",
            f"{t['at']}  {t.get('from') or '∅'} → {t['to']}  {t['actor_kind']} {t['actor']}: "
            f"{t['reason']}",
        )
        for t in run.get("timeline") or []
    ]
    if lines[1:]:
        lines[1] = ("timeline", lines[1][1])
    rollback = run.get("rollback")
    if rollback:
        lines.append(
            (
                "rollback",
                f"{rollback['trigger']} by {rollback['actor']}: {rollback['reason']} — "
                f"{rollback['agents_reverted']}/{rollback['agents_total']} reverted",
            )
        )
    return lines


def _dora_lines(dora: Mapping[str, Any]) -> list[tuple[str, str]]:
    fact = dora["deployment"]
    shown = _absent(fact) or f"{fact['value']['event_id']} ({fact['value']['facts'].get('status')})"
    lines = [("dora", f"deployment fact {shown}")]
    rollback = dora["rollback"]
    lines.append(("", f"rollback fact {_absent(rollback) or rollback['value']['event_id']}"))
    incidents = [i["value"]["event_id"] for i in dora["incidents"] if i.get("value")]
    lines.append(
        ("", f"incidents: {', '.join(incidents) or dora.get('incidents_reason') or 'none'}")
    )
    impact = dora.get("impact")
    if impact and impact["counted_as_failed"]:
        why = "; ".join(impact["failed_because"])
        lines.append(("impact", f"failed ({why}); recovery {duration(impact['recovery_s'])}"))
    elif impact:
        lines.append(("impact", "not counted as failed"))
    return lines


def render(trail: Mapping[str, Any]) -> str:
    """The human view of a ``GET /v1/trail/{id}`` answer."""
    rows: list[tuple[str, str]] = []
    run = trail["deployment"]
    rows.append(("deployment", _absent(run) or _deployment(run["value"])))
    decision, approval = trail["decision"], trail["approval"]
    rows.append(("decision", _absent(decision) or _decision(decision["value"])))
    rows.append(("approval", _absent(approval) or _approval(approval["value"])))
    if run.get("value"):
        rows += _run_lines(run["value"])
    rows += _dora_lines(trail["dora"])
    head = f"trail · {trail['agency']} · {trail['id']} (found as {trail['found_as']})"
    return "\n".join([head, "", *(f"{k:11} {v}" for k, v in rows)])


@click.command("trail")
@click.argument("trail_id")
@click.option("--postmortem", is_flag=True, help="The Markdown postmortem draft instead.")
@click.option("--agency", default=None, help="Required with an org-wide key.")
@click.option("--json", "as_json", is_flag=True, help="The trail as JSON.")
@connection_options
@pass_state
@api_errors
def trail(
    state: CliState,
    trail_id: str,
    postmortem: bool,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """The trail of one change from any of its ids: its policy decision, approval, run (batches,
    verdicts, transitions, rollback) and DORA facts; --postmortem: a draft for a failed or
    rolled-back deployment."""
    client = CortexClient.from_env(url, api_key)
    if postmortem:
        click.echo(client.postmortem(trail_id, agency=agency), nl=False)
        return EXIT_OK
    found = client.trail(trail_id, agency=agency)
    click.echo(json.dumps(found, indent=2) if as_json or state.json_output else render(found))
    return EXIT_OK
