"""`cortex approvals`: list, show, approve and reject approval requests.

Exit codes (ARCHITECTURE §4):

- ``list``: 0 with the page.
- ``show ID [--wait S]``: the request's status as a pipeline gate — 0 granted, 3 still pending
  (needs approval), 2 rejected, expired or superseded (blocked for good).
- ``approve|reject ID...``: 0 when every decision was taken (a repeat of the same decision
  included), 2 when any was refused (role missing, self-approval, already decided otherwise,
  closed, expired, superseded, not found); each id is answered on its own line either way.
- 1 for a usage or transport error, an invalid key or a service outage, on every command.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import httpx

from cortex_sdk.cli_api import api_errors, connection_options
from cortex_sdk.cli_context import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_NEEDS_APPROVAL,
    EXIT_OK,
    CliState,
    pass_state,
)
from cortex_sdk.client import ApiError, CortexClient

STATUSES = ["pending", "granted", "rejected", "expired", "superseded"]
SHOW_EXIT = {"granted": EXIT_OK, "pending": EXIT_NEEDS_APPROVAL}
"""``show``'s exit code by status; any other (terminal, not granted) is EXIT_FAILED."""
REFUSED = frozenset({403, 404, 409, 410, 422})
"""Statuses of a decision the workflow (or the gateway) refused: blocked, not an error."""

_json_option = click.option("--json", "as_json", is_flag=True, help="JSON output.")
_agency_option = click.option("--agency", default=None, help="Required with an org-wide key.")


def _output(state: CliState, as_json: bool, data: Any, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json or state.json_output else human)


@click.group()
def approvals() -> None:
    """List, show and decide approval requests."""


def render_list(items: Sequence[dict[str, Any]]) -> str:
    """The human table of a page of requests."""
    if not items:
        return "no approval requests"
    lines = [f"{'ID':36} {'STATUS':10} {'SUBJECT':32} {'APPROVALS':9} {'MISSING':16} REQUESTED"]
    for a in items:
        subject = f"{a['subject']['kind']} {a['subject']['id']}"
        lines.append(
            f"{a['id']:36} {a['status']:10} {subject[:32]:32} "
            f"{str(a['approvals']) + '/' + str(a['quorum']):9} "
            f"{','.join(a['missing_roles']) or '-':16} "
            f"{a['requested_at']}"
        )
    return "\n".join(lines)


@approvals.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--mine", is_flag=True, help="Only the pending requests this key could approve now.")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@_agency_option
@_json_option
@connection_options
@pass_state
@api_errors
def approvals_list(
    state: CliState,
    status: str | None,
    mine: bool,
    limit: int,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """Approval requests, newest first."""
    page = CortexClient.from_env(url, api_key).list_approvals(
        agency=agency, status=status, mine=mine, limit=limit
    )
    human = render_list(page["items"])
    if page.get("next_cursor"):
        human += f"\n(more: narrow with --status, or raise --limit up to 200; showing {limit})"
    _output(state, as_json, page, human)
    return EXIT_OK


def render(a: dict[str, Any]) -> str:
    """The human view of one request and its trail."""
    roles = ", ".join(a["required_roles"]) or "any approver"
    lines = [
        f"approval {a['id']} · {a['status']}",
        f"subject    {a['subject']['kind']} {a['subject']['id']} ({a['subject']['input_hash']})",
        f"requested  by {a['requested_by']}"
        + (f" (team {a['requester_team']})" if a["requester_team"] else "")
        + f" at {a['requested_at']}",
        f"needs      {a['quorum']} approver(s), roles: {roles}; {a['approvals']} so far"
        + (f", missing {', '.join(a['missing_roles'])}" if a["missing_roles"] else ""),
        f"expires    {a['expires_at']}",
    ]
    if a["superseded_by"]:
        lines.append(f"superseded by {a['superseded_by']}")
    lines += [f"{label:10} {a[label]}" for label in ("summary", "reason") if a[label]]
    if a["rule_ids"]:
        lines.append(f"rules      {', '.join(a['rule_ids'])} (policy {a['policy_version']})")
    lines.append("trail" if a["trail"] else "trail      no decision yet")
    for t in a["trail"]:
        comment = f" — {t['comment']}" if t["comment"] else ""
        lines.append(
            f"  {t['decided_at']} {t['decision']:7} {t['approver']} ({', '.join(t['roles'])})"
            f"{comment}"
        )
    return "\n".join(lines)


@approvals.command("show")
@click.argument("approval_id")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    help="Wait up to this many seconds for a decision (long-poll).",
)
@_agency_option
@_json_option
@connection_options
@pass_state
@api_errors
def approvals_show(
    state: CliState,
    approval_id: str,
    wait: float,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """One request with its trail; exit 0 granted, 3 pending, 2 rejected/expired/superseded."""
    client = CortexClient.from_env(url, api_key)
    if wait > 0:
        approval = client.wait_for_approval(approval_id, wait, agency=agency).approval
    else:
        approval = client.get_approval(approval_id, agency=agency)
    _output(state, as_json, approval, render(approval))
    return SHOW_EXIT.get(approval["status"], EXIT_FAILED)


def _single(
    client: CortexClient, approval_id: str, decision: str, comment: str, agency: str | None
) -> dict[str, Any]:
    """One decision, in the shape of a bulk item (so both answer alike)."""
    try:
        result = client.decide(approval_id, decision, comment, agency=agency)
    except ApiError as exc:
        if exc.status not in REFUSED:
            raise
        return {"approval_id": approval_id, "status": exc.status, "problem": exc.problem}
    return {"approval_id": approval_id, "status": 200, "result": result}


def render_item(item: dict[str, Any], decision: str) -> tuple[str, bool]:
    """The line (or lines) of one answered decision, and whether it was taken."""
    if item["status"] == 200:
        approval = item["result"]["approval"]
        verb = "approved" if decision == "approve" else "rejected"
        again = " (repeated: nothing changed)" if item["result"]["repeated"] else ""
        state = approval["status"]
        if state == "pending":
            state += f", {approval['approvals']} of {approval['quorum']} approval(s)"
            if approval["missing_roles"]:
                state += f", missing {', '.join(approval['missing_roles'])}"
        return f"{verb} {item['approval_id']}: {state}{again}", True
    problem = item.get("problem") or {}
    line = (
        f"refused {item['approval_id']}: {item['status']} {problem.get('code', 'http_error')}: "
        f"{problem.get('detail', '')}"
    )
    if problem.get("remediation"):
        line += f"\n  fix: {problem['remediation']}"
    return line, False


def _decide(
    state: CliState,
    decision: str,
    approval_ids: tuple[str, ...],
    comment: str,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    client = CortexClient.from_env(url, api_key)
    try:
        if len(approval_ids) == 1:
            items = [_single(client, approval_ids[0], decision, comment, agency)]
        else:
            items = client.decide_many(list(approval_ids), decision, comment, agency=agency)
    except ApiError as exc:
        click.echo(f"error: {exc.code}: {exc.detail}", err=True)
        if exc.remediation:
            click.echo(f"  fix: {exc.remediation}", err=True)
        return EXIT_FAILED if exc.status in (403, 422) else EXIT_ERROR
    except httpx.HTTPError as exc:
        click.echo(f"error: cannot reach the gateway: {exc}", err=True)
        return EXIT_ERROR
    rendered = [render_item(item, decision) for item in items]
    if as_json or state.json_output:
        click.echo(json.dumps({"items": items}, indent=2, default=str))
    else:
        for line, taken in rendered:
            click.echo(line, err=not taken)
    return EXIT_OK if all(taken for _, taken in rendered) else EXIT_FAILED


def _decision_command(decision: str, verb: str) -> click.Command:
    @click.argument("approval_ids", nargs=-1, required=True, metavar="ID...")
    @click.option("--comment", default="", help="Why (kept in the trail).")
    @_agency_option
    @_json_option
    @connection_options
    @pass_state
    def command(
        state: CliState,
        approval_ids: tuple[str, ...],
        comment: str,
        agency: str | None,
        as_json: bool,
        url: str | None,
        api_key: str | None,
    ) -> int:
        return _decide(state, decision, approval_ids, comment, agency, as_json, url, api_key)

    command.__doc__ = (
        f"{verb} one or more requests; each is answered on its own (exit 2 if any is refused)."
    )
    return click.command(verb.lower())(command)


approvals.add_command(_decision_command("approve", "Approve"))
approvals.add_command(_decision_command("reject", "Reject"))

__all__ = ["approvals", "render", "render_item", "render_list"]
