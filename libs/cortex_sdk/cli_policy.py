"""`cortex policy validate|apply|diff|history|rollback|simulate|effective`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cortex_sdk.cli_api import api_errors, connection_options, emit
from cortex_sdk.cli_context import EXIT_FAILED, EXIT_OK, CliState, pass_state
from cortex_sdk.client import CortexClient, PolicyClient

AGENCY_HELP = "Agency slug; omit with --org for the org baseline."


def _read(path: str) -> tuple[str, str]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    media = "application/json" if path.endswith(".json") else "application/yaml"
    return text, media


def _policies(url: str | None, api_key: str | None) -> PolicyClient:
    return PolicyClient(CortexClient.from_env(url, api_key))


def _scope(agency: str | None, org: bool) -> str | None:
    if org == (agency is not None):
        raise click.UsageError("give exactly one of --agency or --org")
    return agency


def _issues(issues: list[dict[str, Any]], path: str) -> str:
    return "\n".join(
        f"{path}:{i.get('line') or '?'}:{i.get('column') or '?'}: {i['path']}: {i['message']}"
        + (f"\n    fix: {i['remediation']}" if i.get("remediation") else "")
        for i in issues
    )


@click.group()
def policy() -> None:
    """Validate, publish and inspect AI policies."""


@policy.command("validate")
@click.option("-f", "--file", "path", required=True, help="Policy YAML/JSON file, or -.")
@connection_options
@pass_state
@api_errors
def validate(state: CliState, path: str, url: str | None, api_key: str | None) -> int:
    """Check a policy (every problem with line, column and fix); exit 2 when invalid."""
    text, media = _read(path)
    result = _policies(url, api_key).validate(text, media)
    human = "valid" if result["valid"] else _issues(result["issues"], path)
    emit(state, result, human)
    return EXIT_OK if result["valid"] else EXIT_FAILED


@policy.command("apply")
@click.option("-f", "--file", "path", required=True, help="Policy YAML/JSON file, or -.")
@click.option("--agency", default=None, help=AGENCY_HELP)
@click.option("--org", is_flag=True, help="Publish the org baseline (admin).")
@click.option("--team", default=None, help="Publish a team overlay of the agency.")
@click.option("-m", "--message", default="", help="Why this change.")
@connection_options
@pass_state
@api_errors
def apply(
    state: CliState,
    path: str,
    agency: str | None,
    org: bool,
    team: str | None,
    message: str,
    url: str | None,
    api_key: str | None,
) -> int:
    """Publish a new immutable version (a no-op when the content is unchanged)."""
    text, media = _read(path)
    row = _policies(url, api_key).apply(
        _scope(agency, org), text, team=team, message=message, content_type=media
    )
    verb = "published" if row.get("created") else "unchanged, still"
    emit(state, row, f"{verb} version {row['version']} ({row['content_hash'][:19]}…)")
    return EXIT_OK


@policy.command("history")
@click.option("--agency", default=None, help=AGENCY_HELP)
@click.option("--org", is_flag=True)
@click.option("--team", default=None)
@connection_options
@pass_state
@api_errors
def history(
    state: CliState,
    agency: str | None,
    org: bool,
    team: str | None,
    url: str | None,
    api_key: str | None,
) -> int:
    """Versions, newest first."""
    items = _policies(url, api_key).history(_scope(agency, org), team=team)
    lines = [f"{'VERSION':8} {'CREATED':26} {'AUTHOR':14} MESSAGE"]
    lines += [
        f"{v['version']:<8} {v['created_at']:26} {v['author']:14} {v['message']}"
        + (f" (rollback of v{v['rollback_of']})" if v.get("rollback_of") else "")
        for v in items
    ]
    emit(state, items, "\n".join(lines))
    return EXIT_OK


@policy.command("diff")
@click.option("--agency", required=True)
@click.option("--team", default=None)
@click.option("--from", "old", type=int, required=True, help="Older version.")
@click.option("--to", "new", type=int, default=None, help="Newer version [latest].")
@connection_options
@pass_state
@api_errors
def diff(
    state: CliState,
    agency: str,
    team: str | None,
    old: int,
    new: int | None,
    url: str | None,
    api_key: str | None,
) -> int:
    """What changed between two versions."""
    result = _policies(url, api_key).diff(agency, old, new, team=team)
    marks = {"added": "+", "removed": "-", "changed": "~"}
    lines = [f"v{result['from']} → v{result['to']}"]
    lines += [
        f"{marks.get(c['kind'], '~')} {c['path']}: {c['old']!r} → {c['new']!r}"
        for c in result["changes"]
    ]
    emit(state, result, "\n".join(lines))
    return EXIT_OK


@policy.command("rollback")
@click.argument("version", type=int)
@click.option("--agency", default=None, help=AGENCY_HELP)
@click.option("--org", is_flag=True)
@click.option("--team", default=None)
@click.option("--reason", required=True, help="Why (recorded with the new version).")
@connection_options
@pass_state
@api_errors
def rollback(
    state: CliState,
    version: int,
    agency: str | None,
    org: bool,
    team: str | None,
    reason: str,
    url: str | None,
    api_key: str | None,
) -> int:
    """Publish VERSION's content again as a new version."""
    row = _policies(url, api_key).rollback(_scope(agency, org), version, reason, team=team)
    emit(state, row, f"published version {row['version']} (content of v{version})")
    return EXIT_OK


@policy.command("simulate")
@click.option("-f", "--file", "path", required=True)
@click.option("--agency", required=True)
@click.option("--last", type=int, default=100, help="Recent decisions to replay.")
@connection_options
@pass_state
@api_errors
def simulate(
    state: CliState, path: str, agency: str, last: int, url: str | None, api_key: str | None
) -> int:
    """Which recent decisions a candidate policy would change; exit 2 if any would."""
    text, _ = _read(path)
    report = _policies(url, api_key).simulate(agency, text, last)
    lines = [f"{report['evaluated']} decisions replayed, {report['changed']} would change"]
    lines += [
        f"  {c['decision_id']} {c['action_type']}: {c['before']} → {c['after']}"
        for c in report["changes"]
    ]
    emit(state, report, "\n".join(lines))
    return EXIT_FAILED if report["changed"] else EXIT_OK
