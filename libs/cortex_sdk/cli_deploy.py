"""`cortex deploy`, `cortex rollback`, `cortex deployments list|show|pause|resume|abort`.

Exit codes (ARCHITECTURE §4):

- ``deploy -f plan.yaml``: 0 accepted and running (with ``--wait``: succeeded), 2 blocked
  (``deployment_blocked``, ``targets_busy``) or, with ``--wait``, failed / rolled back /
  aborted / rejected, 3 waiting for an approval (without ``--wait``; with it the command keeps
  waiting through the approval), 1 a usage or transport error (an invalid plan included) or
  ``--timeout`` reached first.
- ``show ID``: the same mapping of the run's status (0 while it runs or once it succeeded).
- ``rollback|pause|resume|abort ID --reason``: 0 done (a repeat included), 2 refused
  (``invalid_transition``), 1 an error.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click
import httpx

from cortex_sdk import deploy_view
from cortex_sdk.cli_api import api_errors, connection_options
from cortex_sdk.cli_context import EXIT_ERROR, EXIT_FAILED, EXIT_OK, CliState, pass_state
from cortex_sdk.client import TERMINAL_DEPLOYMENT, ApiError, CortexClient

BLOCKING = frozenset({"deployment_blocked", "targets_busy"})
"""Refusals of a plan that are a verdict on it (exit 2), not a mistake in it (exit 1)."""
STATUSES = [
    "pending_approval",
    "running",
    "paused",
    "rolling_back",
    "succeeded",
    "rolled_back",
    "aborted",
    "rejected",
    "failed",
]

_json_option = click.option("--json", "as_json", is_flag=True, help="JSON output.")
_agency_option = click.option("--agency", default=None, help="Required with an org-wide key.")
_reason_option = click.option(
    "--reason", required=True, help="Why (recorded on the run's timeline with your key)."
)


def _json(state: CliState, as_json: bool) -> bool:
    return as_json or state.json_output


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _read_plan(path: str) -> tuple[str, str]:
    """The plan's text and content type (JSON for a ``.json`` file, else YAML)."""
    if path == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise click.UsageError(f"cannot read {path}: {exc.strerror}") from exc
    kind = "application/json" if path.endswith(".json") else "application/yaml"
    return text, kind


class _Live:
    """Shows each new version of the record: a bar redrawn in place on a terminal, else one
    line per change."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.changes = deploy_view.Changes()
        self.drawn = False

    def __call__(self, record: dict[str, Any]) -> None:
        lines = self.changes.lines(record)
        if not self.tty:
            for line in lines:
                click.echo(line)
            return
        progress = self.changes.last_line
        for line in lines:
            if line != progress:  # events stay on screen above the bar
                click.echo("\r\x1b[2K" + line)
        click.echo("\r\x1b[2K" + progress, nl=False)
        self.drawn = True

    def end(self) -> None:
        if self.tty and self.drawn:
            click.echo()


def _refused_plan(exc: ApiError, as_json: bool) -> int:
    if as_json:
        _print({"status": exc.status, "problem": exc.problem})
    else:
        click.echo(deploy_view.blocked(exc.problem), err=True)
    return EXIT_FAILED if exc.code in BLOCKING else EXIT_ERROR


@click.command("deploy")
@click.option("-f", "--file", "plan_file", required=True, help="The plan (YAML or .json; - stdin).")
@click.option("--wait", is_flag=True, help="Follow the run to its end (through an approval).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="With --wait: give up after this many seconds (exit 1).",
)
@click.option(
    "--idempotency-key",
    default=None,
    help="Retry-safe key (default: a new one, so this command's own retries make one run).",
)
@_agency_option
@_json_option
@connection_options
@pass_state
@api_errors
def deploy(
    state: CliState,
    plan_file: str,
    wait: bool,
    timeout: float,
    idempotency_key: str | None,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """Submit a deployment plan; with --wait show its batches live and a final summary."""
    text, kind = _read_plan(plan_file)
    client = CortexClient.from_env(url, api_key)
    machine = _json(state, as_json)
    try:
        record = client.create_deployment(
            text,
            content_type=kind,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            agency=agency,
        )
    except ApiError as exc:
        if exc.status in (409, 422):
            return _refused_plan(exc, machine)
        raise
    if not wait:
        if machine:
            _print(record)
        else:
            click.echo(deploy_view.created_line(record))
        return deploy_view.exit_code(record["status"])
    return _follow(client, record, timeout, agency, machine)


def _follow(
    client: CortexClient, record: dict[str, Any], timeout: float, agency: str | None, machine: bool
) -> int:
    live = _Live(tty=not machine and sys.stdout.isatty())
    if not machine:
        click.echo(deploy_view.created_line(record))
        live(record)
    started = time.monotonic()
    try:
        final = client.wait_for_deployment(
            record["id"],
            timeout,
            agency=agency,
            version=int(record["version"]),
            on_change=None if machine else live,
        )
    finally:
        live.end()
    if machine:
        _print(final)
    else:
        click.echo(deploy_view.summary(final))
    if final["status"] not in TERMINAL_DEPLOYMENT:
        click.echo(
            f"error: still {final['status']} after {time.monotonic() - started:.0f} s "
            f"(--timeout {timeout:g}); follow it with `cortex deployments show {final['id']}`",
            err=True,
        )
        return EXIT_ERROR
    return deploy_view.exit_code(final["status"])


@click.group()
def deployments() -> None:
    """List, show and control deployment runs."""


@deployments.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--service", default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@_agency_option
@_json_option
@connection_options
@pass_state
@api_errors
def deployments_list(
    state: CliState,
    status: str | None,
    service: str | None,
    limit: int,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """Deployment runs, newest first."""
    page = CortexClient.from_env(url, api_key).list_deployments(
        agency=agency, status=status, service=service, limit=limit
    )
    if _json(state, as_json):
        _print(page)
    else:
        click.echo(deploy_view.list_table(page["items"]))
        if page.get("next_after"):
            click.echo(f"(more: showing {limit}; narrow with --status or --service)")
    return EXIT_OK


@deployments.command("show")
@click.argument("deployment_id")
@_agency_option
@_json_option
@connection_options
@pass_state
@api_errors
def deployments_show(
    state: CliState,
    deployment_id: str,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """The whole record: plan, policy decision, approval, batches, timeline, rollback."""
    record = CortexClient.from_env(url, api_key).get_deployment(deployment_id, agency=agency)
    if _json(state, as_json):
        _print(record)
    else:
        click.echo(deploy_view.summary(record))
    return deploy_view.exit_code(record["status"])


def _control(
    state: CliState,
    command: str,
    deployment_id: str,
    reason: str,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    client = CortexClient.from_env(url, api_key)
    try:
        record = client.deployment_command(deployment_id, command, reason, agency=agency)
    except ApiError as exc:
        if exc.code != "invalid_transition":
            raise
        if _json(state, as_json):
            _print({"status": exc.status, "problem": exc.problem})
        else:
            allowed = ", ".join(map(str, exc.problem.get("allowed") or [])) or "none"
            click.echo(f"refused: {exc.detail} (allowed now: {allowed})", err=True)
        return EXIT_FAILED
    except httpx.HTTPError as exc:
        click.echo(f"error: cannot reach the gateway: {exc}", err=True)
        return EXIT_ERROR
    if _json(state, as_json):
        _print(record)
    else:
        click.echo(f"{command}: deployment {record['id']} is {record['status']}")
        click.echo(deploy_view.progress_line(record))
    return EXIT_OK


def _control_command(command: str, help_text: str) -> click.Command:
    @click.argument("deployment_id", metavar="ID")
    @_reason_option
    @_agency_option
    @_json_option
    @connection_options
    @pass_state
    @api_errors
    def control(
        state: CliState,
        deployment_id: str,
        reason: str,
        agency: str | None,
        as_json: bool,
        url: str | None,
        api_key: str | None,
    ) -> int:
        return _control(state, command, deployment_id, reason, agency, as_json, url, api_key)

    control.__doc__ = help_text
    return click.command(command)(control)


rollback = _control_command(
    "rollback", "Roll every touched agent back to the run's snapshot (twice: the same state)."
)
for _command, _help in (
    ("pause", "Pause the run before its next batch."),
    ("resume", "Resume a paused run."),
    ("abort", "Stop the run; agents stay where they are."),
    ("rollback", "Roll every touched agent back to the run's snapshot."),
):
    deployments.add_command(_control_command(_command, _help))

__all__ = ["deploy", "deployments", "rollback"]
