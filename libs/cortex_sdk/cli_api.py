"""CLI commands that talk to the gateway: keys, events (more domains add their own groups)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
import httpx
import yaml

from cortex_sdk.cli_context import EXIT_ERROR, EXIT_FAILED, CliState, pass_state
from cortex_sdk.client import ApiError, CortexClient

P = ParamSpec("P")
R = TypeVar("R")

ROLES = ["admin", "policy-admin", "deployer", "approver", "agent", "viewer"]


def connection_options(func: Callable[P, R]) -> Callable[P, R]:
    func = click.option(
        "--api-key", envvar="CORTEX_API_KEY", help="API key (or .cortex/admin.key)."
    )(func)
    return click.option("--url", envvar="CORTEX_URL", help="Gateway URL [http://127.0.0.1:8080].")(
        func
    )


def api_errors(func: Callable[P, int]) -> Callable[P, int]:
    """Turn API and transport errors into a readable message and the contract's exit codes."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return func(*args, **kwargs)
        except ApiError as exc:
            click.echo(f"error: {exc.code}: {exc.detail}", err=True)
            if exc.remediation:
                click.echo(f"  fix: {exc.remediation}", err=True)
            return EXIT_FAILED if exc.status in (403, 409, 422) else EXIT_ERROR
        except httpx.HTTPError as exc:
            click.echo(f"error: cannot reach the gateway: {exc}", err=True)
            return EXIT_ERROR

    return wrapper


def emit(state: CliState, data: Any, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if state.json_output else human)


@click.group()
def keys() -> None:
    """Manage API keys (admin)."""


@keys.command("create")
@click.option("--agency", required=True, help="Agency slug, or '*' for an org-wide key.")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default="", help="A label, e.g. 'ci-checkout'.")
@click.option(
    "--approval-role",
    "approval_roles",
    multiple=True,
    help="A role approval policies may require (e.g. data-owner); repeatable. Approver and "
    "admin keys only.",
)
@click.option("--team", default=None, help="The key's team (separation of duties).")
@click.option(
    "--route",
    "routes",
    multiple=True,
    help="Limit the key to a route, e.g. 'POST /v1/authorize' or 'GET /v1/agents/*'; "
    "repeatable. Default: every route the role allows.",
)
@connection_options
@pass_state
@api_errors
def keys_create(
    state: CliState,
    agency: str,
    role: str,
    name: str,
    approval_roles: tuple[str, ...],
    team: str | None,
    routes: tuple[str, ...],
    url: str | None,
    api_key: str | None,
) -> int:
    """Create a key; its secret is printed once."""
    created = CortexClient.from_env(url, api_key).create_key(
        agency, role, name, approval_roles=approval_roles, team=team, routes=routes or None
    )
    extra = "".join(
        [
            f" · approval roles {', '.join(created['approval_roles'])}"
            if created.get("approval_roles")
            else "",
            f" · team {created['team']}" if created.get("team") else "",
            f" · routes {', '.join(created['routes'])}" if created.get("routes") else "",
        ]
    )
    emit(
        state,
        created,
        f"{created['key']}\n\nkey id {created['id']} · agency {created['agency']} · role "
        f"{created['role']}{extra}\nStore it now: the secret is not shown again.",
    )
    return 0


@keys.command("list")
@connection_options
@pass_state
@api_errors
def keys_list(state: CliState, url: str | None, api_key: str | None) -> int:
    """List keys (never their secrets)."""
    items = CortexClient.from_env(url, api_key).list_keys()
    lines = [
        f"{'ID':14} {'AGENCY':20} {'ROLE':13} {'APPROVAL ROLES':20} {'TEAM':12} {'REVOKED':8} NAME"
    ]
    lines += [
        f"{k['id']:14} {k['agency']:20} {k['role']:13} "
        f"{','.join(k.get('approval_roles') or []) or '-':20} {k.get('team') or '-':12} "
        f"{_yes(k['revoked_at']):8} {k['name']}"
        for k in items
    ]
    emit(state, items, "\n".join(lines))
    return 0


def _yes(value: object) -> str:
    return "yes" if value else "no"


@keys.command("revoke")
@click.argument("key_id")
@connection_options
@pass_state
@api_errors
def keys_revoke(state: CliState, key_id: str, url: str | None, api_key: str | None) -> int:
    """Revoke a key."""
    CortexClient.from_env(url, api_key).revoke_key(key_id)
    emit(state, {"revoked": key_id}, f"revoked {key_id}")
    return 0


@click.group()
def events() -> None:
    """Send and read delivery events (changes, deployments, incidents)."""


def _load_events(path: str) -> list[dict[str, Any]]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    data = yaml.safe_load(text)
    if isinstance(data, dict) and "events" in data:
        data = data["events"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise click.BadParameter("expected an event, a list of events or {events: [...]}")
    return data


@events.command("send")
@click.option(
    "-f", "--file", "path", required=True, help="JSON/YAML file of events, or - for stdin."
)
@click.option("--agency", default=None, help="Required with an org-wide key.")
@connection_options
@pass_state
@api_errors
def events_send(
    state: CliState, path: str, agency: str | None, url: str | None, api_key: str | None
) -> int:
    """Send a batch of events (all or nothing)."""
    result = CortexClient.from_env(url, api_key).send_events(_load_events(path), agency)
    emit(state, result, f"accepted {result['accepted']} event(s) for agency {result['agency']}")
    return 0


@events.command("list")
@click.option("--agency", default=None)
@click.option("--kind", type=click.Choice(["change", "deployment", "incident"]), default=None)
@connection_options
@pass_state
@api_errors
def events_list(
    state: CliState, agency: str | None, kind: str | None, url: str | None, api_key: str | None
) -> int:
    """List stored events, newest first."""
    result = CortexClient.from_env(url, api_key).list_events(agency, kind)
    lines = [f"{'KIND':11} {'ID':24} {'SERVICE':20} OCCURRED"]
    lines += [
        f"{e['kind']:11} {e['event_id']:24} {e['service']:20} {e['occurred_at']}"
        for e in result["items"]
    ]
    emit(state, result, "\n".join(lines))
    return 0


__all__ = ["EXIT_ERROR", "events", "keys"]
