"""`cortex dora`: the five DORA metrics with their bands, as a table or as JSON; and
`cortex dora mappings show|set|history`: the agency's delivery mapping (docs/metrics.md
"Mappings").

Exit codes: 0 with the report; 1 for a usage, API or transport error (a bad window included);
2 with ``--fail-under BAND`` when a metric's band is below it (a pipeline gate). The mapping
commands: 0 done; 2 refused (a bad document, a role that may not write it); 1 otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
import httpx
import yaml

from cortex_sdk.cli_api import api_errors, connection_options, emit
from cortex_sdk.cli_context import EXIT_ERROR, EXIT_FAILED, EXIT_OK, CliState, pass_state
from cortex_sdk.client import ApiError, CortexClient

BANDS = ["low", "medium", "high", "elite"]  # worst first
_METRICS = (
    ("deployment_frequency", "deployment frequency"),
    ("lead_time", "lead time"),
    ("change_failure_rate", "change failure rate"),
    ("recovery_time", "recovery time"),
    ("rework_rate", "rework rate"),
)


def duration(seconds: float | None) -> str:
    """``5400`` → ``1h 30m``; ``None`` (no data) → ``—``."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _rate(metric: dict[str, Any], part: str) -> str:
    if metric["value"] is None:
        return "no deployments"
    low, high = metric["ci95"]
    return (
        f"{_percent(metric['value'])} [{_percent(low)}-{_percent(high)}] "
        f"({metric[part]}/{metric['n']})"
    )


def _values(r: dict[str, Any]) -> dict[str, str]:
    freq, lead, recovery = r["deployment_frequency"], r["lead_time"], r["recovery_time"]
    frequency_class = (freq["frequency_class"] or "no deployments").replace("_", " ")
    return {
        "deployment_frequency": f"{freq['count']} ({freq['per_day']:.2f}/day, {frequency_class})",
        "lead_time": f"p50 {duration(lead['p50_s'])} · p90 {duration(lead['p90_s'])} "
        f"(n={lead['n']})",
        "change_failure_rate": _rate(r["change_failure_rate"], "failed"),
        "recovery_time": f"p50 {duration(recovery['p50_s'])} · p90 {duration(recovery['p90_s'])} "
        f"(n={recovery['n']}, unrecovered {recovery['unrecovered']})",
        "rework_rate": _rate(r["rework_rate"], "unplanned"),
    }


def _bucket_row(b: dict[str, Any]) -> str:
    return (
        f"{b['from']:22} {b['deployment_frequency']['count']:>7}  "
        f"{duration(b['lead_time']['p50_s']):>9}  "
        f"{_percent(b['change_failure_rate']['value']):>6}  "
        f"{duration(b['recovery_time']['p50_s']):>12}"
    )


def _bucket_rows(r: dict[str, Any]) -> list[str]:
    header = f"{'FROM':22} {'DEPLOYS':>7}  {'LEAD p50':>9}  {'CFR':>6}  {'RECOVERY p50':>12}"
    return [header, *(_bucket_row(b) for b in r["buckets"])]


def render(r: dict[str, Any]) -> str:
    """The human table of a report."""
    window, scope = r["window"], r["filter"]
    title = " · ".join(
        [
            f"DORA · {r['agency']}",
            scope["service"] or "all services",
            scope["environment"] or "all environments",
            f"{window['from']} → {window['to']} ({window['days']:g} days)",
            f"linking {r['linking']['strategy']}",
        ]
    )
    values = _values(r)
    lines = [title, "", f"{'METRIC':22} {'VALUE':52} BAND"]
    for key, label in _METRICS:
        lines.append(f"{label:22} {values[key]:52} {r[key]['band'] or '—'}")
    overall = r["quick_check"]["overall"]
    lines.append(f"{'quick check':22} {'—' if overall is None else f'{overall} / 10'}")
    if r["buckets"]:
        lines += ["", *_bucket_rows(r)]
    return "\n".join(lines)


def below(r: dict[str, Any], minimum: str) -> list[str]:
    """The metrics whose band is worse than ``minimum`` (metrics without a band pass)."""
    floor = BANDS.index(minimum)
    return [k for k, _ in _METRICS if r[k]["band"] and BANDS.index(r[k]["band"]) < floor]


@click.group("dora", invoke_without_command=True)
@click.option("--agency", default=None, help="Required with an org-wide key.")
@click.option("--service", default=None, help="One service (default: all).")
@click.option("--environment", default=None, help="Default production; '*' for every environment.")
@click.option("--from", "start", default=None, help="Date or RFC 3339 time [30 days ago].")
@click.option("--to", "end", default=None, help="Date or RFC 3339 time [now].")
@click.option("--bucket", type=click.Choice(["day", "week", "month"]), default=None)
@click.option("--fail-under", type=click.Choice(BANDS), default=None, help="Exit 2 below it.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@connection_options
@click.pass_context
def dora(
    ctx: click.Context,
    agency: str | None,
    service: str | None,
    environment: str | None,
    start: str | None,
    end: str | None,
    bucket: str | None,
    fail_under: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """Deployment frequency, lead time, change failure rate, recovery time and rework rate.

    `cortex dora mappings …` manages how webhook deliveries are mapped."""
    if ctx.invoked_subcommand is not None:
        return EXIT_OK
    state = ctx.ensure_object(CliState)
    client = CortexClient.from_env(url, api_key)
    try:
        report = client.dora(
            agency=agency,
            service=service,
            environment=environment,
            start=start,
            end=end,
            bucket=bucket,
        )
    except ApiError as exc:
        click.echo(f"error: {exc.code}: {exc.detail}", err=True)
        if exc.remediation:
            click.echo(f"  fix: {exc.remediation}", err=True)
        return EXIT_ERROR
    except httpx.HTTPError as exc:
        click.echo(f"error: cannot reach the gateway: {exc}", err=True)
        return EXIT_ERROR
    click.echo(json.dumps(report, indent=2) if as_json or state.json_output else render(report))
    failing = below(report, fail_under) if fail_under else []
    if failing:
        click.echo(f"below {fail_under}: {', '.join(failing)}", err=True)
        return EXIT_FAILED
    return EXIT_OK


# --- mappings ---------------------------------------------------------------------------------

AGENCY_HELP = "Required with an org-wide key."


def _rule(entry: dict[str, Any], extra: str | None) -> str:
    service = entry.get("service") or "(its own name)"
    return f"{service}  ({extra})" if extra else service


def _branches(entry: dict[str, Any]) -> str:
    branches = entry.get("branches")
    if branches is None:
        return "default branch"
    return "branches: " + (", ".join(branches) or "none")


def _repository_line(entry: dict[str, Any]) -> str:
    return _rule(entry, _branches(entry))


def _pagerduty_line(entry: dict[str, Any]) -> str:
    return _rule(entry, entry.get("environment") or "production")


def render_mapping(answer: dict[str, Any]) -> str:
    """The human view of a ``GET /v1/metrics/mappings`` answer."""
    mapping = answer["mapping"]
    if answer["is_default"]:
        head = f"mapping · {answer['agency']} · none set (every default applies)"
    else:
        head = (
            f"mapping · {answer['agency']} · version {answer['version']} "
            f"(set by {answer['updated_by'] or '?'} at {answer['updated_at']})"
        )
    lines = [head]
    sections: tuple[tuple[str, Callable[[Any], str]], ...] = (
        ("repositories", _repository_line),
        ("pagerduty_services", _pagerduty_line),
        ("environments", str),
    )
    for name, show in sections:
        entries = mapping.get(name) or {}
        lines += ["", f"{name.replace('_', ' ')}:"]
        lines += [f"  {key:32} → {show(value)}" for key, value in entries.items()] or ["  —"]
    return "\n".join(lines)


def read_document(path: str) -> dict[str, Any]:
    """A mapping file: YAML or JSON (JSON is YAML), one mapping object."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise click.UsageError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise click.UsageError(f"{path}: a mapping file holds one object (repositories: …)")
    return document


@dora.group("mappings")
def mappings() -> None:
    """The agency's delivery mapping: repositories and PagerDuty services → services,
    counted branches, environment aliases (docs/metrics.md "Mappings")."""


@mappings.command("show")
@click.option("--agency", default=None, help=AGENCY_HELP)
@click.option("--version", type=click.IntRange(min=1), default=None, help="An older version.")
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON.")
@connection_options
@pass_state
@api_errors
def show_mappings(
    state: CliState,
    agency: str | None,
    version: int | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """The mapping in force (or an older version)."""
    answer = CortexClient.from_env(url, api_key).dora_mapping(agency, version)
    _emit(state, as_json, answer, render_mapping(answer))
    return EXIT_OK


@mappings.command("set")
@click.option("-f", "--file", "path", required=True, help="The mapping, YAML or JSON.")
@click.option("--agency", default=None, help=AGENCY_HELP)
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON.")
@connection_options
@pass_state
@api_errors
def set_mappings(
    state: CliState,
    path: str,
    agency: str | None,
    as_json: bool,
    url: str | None,
    api_key: str | None,
) -> int:
    """Replace the mapping with the file's (a new version; admin or policy-admin). It applies
    to deliveries from then on; stored facts are not re-mapped."""
    answer = CortexClient.from_env(url, api_key).set_dora_mapping(read_document(path), agency)
    _emit(state, as_json, answer, f"mapping version {answer['version']} set for {answer['agency']}")
    return EXIT_OK


@mappings.command("history")
@click.option("--agency", default=None, help=AGENCY_HELP)
@click.option("--json", "as_json", is_flag=True, help="The versions as JSON.")
@connection_options
@pass_state
@api_errors
def mapping_history(
    state: CliState, agency: str | None, as_json: bool, url: str | None, api_key: str | None
) -> int:
    """Who set each version and when, newest first."""
    items = CortexClient.from_env(url, api_key).dora_mapping_versions(agency)
    rows = [
        f"v{i['version']:<5} {i['updated_at']}  by {i['updated_by'] or '?'}  "
        f"({i['repositories']} repositories, {i['pagerduty_services']} PagerDuty services, "
        f"{i['environments']} aliases)"
        for i in items
    ]
    _emit(state, as_json, items, "\n".join(rows) or "no mapping set")
    return EXIT_OK


def _emit(state: CliState, as_json: bool, data: Any, human: str) -> None:
    emit(CliState(json_output=True) if as_json else state, data, human)
