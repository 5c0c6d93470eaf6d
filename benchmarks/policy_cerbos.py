"""The same policy as a Cerbos resource policy, the requests in Cerbos's HTTP API, and a real
Cerbos server (the npm package ``@cerbos/cerbos-linux-x64`` under ``.tools``).

Translation (from the effective policy, like :mod:`benchmarks.policy_cedar`): one resource
policy for the kind ``agent_action`` with two actions — ``act`` (done without an approval) and
``act_approved`` (done with one). One ``EFFECT_ALLOW`` rule grants both to every role; every
setting that can block becomes one ``EFFECT_DENY`` rule with a CEL condition: a ``deny`` effect
on both actions, a ``require_approval`` effect on ``act`` only. A check asks for both actions,
and the three-way decision is read from the two effects (Cerbos: deny overrides allow):
``act`` allowed → allow; only ``act_approved`` allowed → require_approval; neither → deny.
Masking and budget alerts never change a decision, so they have no rule. One more deny rule,
``tenancy``, refuses a principal whose agency is not the resource's (what the gateway's
tenancy check does).

Mapping of a request (:func:`cerbos_resource`): principal ``{id: agent id, roles: [agent],
attr: {agency}}``; resource ``{kind: agent_action, id: <resource>, attr}`` with ``agency``,
``action`` (the action type), ``autonomy`` (0..4), ``data_rank`` (0 public .. 3 restricted) and
``data_class``, ``model`` / ``destination`` when given, ``cost_cents`` and ``tokens``,
``usage`` (budget used so far, cents / tokens), ``pii`` (count per entity), ``payload_oversize``,
``recent_violations``, ``labels`` and ``request`` (what CEL sees as ``request``). Cerbos gets
the PII counts ready-made: it does not scan the payload, which the policy engine does on every
authorize.

Globs (``*`` only) become ``==``, ``startsWith``, ``endsWith`` or ``contains`` (an anchored
RE2 ``matches`` for other shapes), as one would write them for Cerbos; each CEL condition of
a rule is translated by hand (``CERBOS_CONDITIONS``). A condition that errors makes Cerbos
skip the rule where the policy engine denies, so the requests only carry conditions that
cannot error (as for Cedar).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from benchmarks.policy_cases import AGENCY, Case
from cortex_kit.embedded import free_port
from policy_engine.domain.decisions.decision import Decision
from policy_engine.domain.document.effective import EffectivePolicy
from policy_engine.domain.document.limits import BUDGET_KEYS
from policy_engine.domain.document.loader import format_path
from policy_engine.domain.document.schema import AUTONOMY_LEVELS, DATA_CLASSES, PII_ENTITIES

ROOT = Path(__file__).resolve().parents[1]
#: Where ``make tools`` (``npm ci --prefix .tools``) puts the server.
PACKAGED_BINARY = ROOT / ".tools/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64"
BINARY_ENV = "CORTEX_CERBOS_BIN"
HOST = "127.0.0.1"
KIND = "agent_action"
ACT, ACT_APPROVED = "act", "act_approved"
ACTIONS = (ACT, ACT_APPROVED)
CHECK = "/api/check/resources"
HEALTH = "/_cerbos/health"
READY_TIMEOUT_S = 30.0

_DATA_RANK = {name: rank for rank, name in enumerate(DATA_CLASSES)}

#: The Cerbos condition of each CEL condition of ``POLICY_20`` (``R.attr`` is the resource's
#: attributes, see the module doc for their layout).
CERBOS_CONDITIONS: dict[str, str] = {
    "request.rows > 1000": "R.attr.request.rows > 1000",
    "request.amount_usd > 500": "R.attr.request.amount_usd > 500",
    "action.data_class == 'confidential'": 'R.attr.data_class == "confidential"',
    "request.environment == 'production' && action.autonomy_level >= 2": (
        'R.attr.request.environment == "production" && R.attr.autonomy >= 2'
    ),
    "agent.recent_violations >= 5 && action.estimated_cost_usd > 1.0": (
        "R.attr.recent_violations >= 5 && R.attr.cost_cents > 100"
    ),
}


def _regex(glob: str) -> str:
    """A CEL raw string holding the anchored RE2 regex of a glob made of literals and ``*``."""
    if any(ch in glob for ch in '?["'):
        raise ValueError(f"glob {glob!r}: only * (and no quote) translates to a Cerbos regex")
    body = ".*".join(re.sub(r"([\\.^$|+(){}\]])", r"\\\1", part) for part in glob.split("*"))
    return f'r"^{body}$"'


def _string(text: str) -> str:
    return json.dumps(text)


def _glob(expr: str, glob: str) -> str:
    """``expr`` matches ``glob``, the cheapest way CEL can say it: ``==``, ``startsWith``,
    ``endsWith`` or ``contains`` for the common shapes, an RE2 ``matches`` otherwise."""
    if any(ch in glob for ch in "?["):
        raise ValueError(f"glob {glob!r}: only * translates to Cerbos")
    if glob == "*":
        return "true"
    inner = glob.strip("*")
    if "*" in inner:
        return f"{expr}.matches({_regex(glob)})"
    starts, ends = glob.startswith("*"), glob.endswith("*")
    if starts and ends:
        return f"{expr}.contains({_string(inner)})"
    if ends:
        return f"{expr}.startsWith({_string(inner)})"
    if starts:
        return f"{expr}.endsWith({_string(inner)})"
    return f"{expr} == {_string(glob)}"


def _matches(expr: str, globs: Sequence[str]) -> str:
    parts = [_glob(expr, g) for g in globs]
    return "(" + " || ".join(parts) + ")" if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class CerbosPolicy:
    """A resource policy as YAML text, with the effect of each deny rule by its Cerbos name."""

    text: str
    effects: Mapping[str, str]
    """Cerbos rule name → ``deny`` | ``require_approval``."""
    rule_ids: Mapping[str, str]
    """Cerbos rule name → our rule id (``tenancy`` has none of ours)."""

    @property
    def rules(self) -> int:
        """Blocking rules translated from the policy (``tenancy`` excluded)."""
        return len(self.rule_ids)


class _Builder:
    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = [
            {
                "name": "permit-all",
                "actions": list(ACTIONS),
                "effect": "EFFECT_ALLOW",
                "roles": ["*"],
            }
        ]
        self.effects: dict[str, str] = {}
        self.rule_ids: dict[str, str] = {}

    def deny(self, rule_id: str | None, when: Sequence[str], *, effect: str = "deny") -> None:
        name = "tenancy" if rule_id is None else self._name(rule_id)
        self.effects[name] = effect
        if rule_id is not None:
            self.rule_ids[name] = rule_id
        rule: dict[str, Any] = {
            "name": name,
            "actions": list(ACTIONS) if effect == "deny" else [ACT],
            "effect": "EFFECT_DENY",
            "roles": ["*"],
        }
        if when:
            rule["condition"] = {"match": {"expr": " && ".join(when)}}
        self.rules.append(rule)

    def _name(self, rule_id: str) -> str:
        """A Cerbos rule name (letters, digits, ``_.-``), unique, that still reads as ours."""
        name = f"r{len(self.rule_ids) + 1:03d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", rule_id)
        return name.strip("_")

    def text(self) -> str:
        document = {
            "apiVersion": "api.cerbos.dev/v1",
            "resourcePolicy": {"version": "default", "resource": KIND, "rules": self.rules},
        }
        return yaml.safe_dump(document, sort_keys=False, width=1000)


def translate(effective: EffectivePolicy, conditions: Mapping[str, str]) -> CerbosPolicy:
    """A Cerbos resource policy equivalent to ``effective``'s blocking rules (module doc)."""
    b = _Builder()
    b.deny(None, ["P.attr.agency != R.attr.agency"])
    for allow in effective.model_allow:
        allowed = f"!{_matches('R.attr.model', allow.value)}" if allow.value else "true"
        b.deny("models.allow", ["has(R.attr.model)", allowed])
    for deny in effective.model_deny:
        b.deny(
            format_path(("models", "deny", deny.value)),
            ["has(R.attr.model)", _matches("R.attr.model", [deny.value])],
        )
    ceiling = effective.scalars.get("autonomy.ceiling")
    if ceiling is not None:
        b.deny("autonomy.ceiling", [f"R.attr.autonomy > {AUTONOMY_LEVELS.index(ceiling.value)}"])
    for limit in effective.glob_limits["autonomy.actions"]:
        b.deny(
            format_path(("autonomy", "actions", limit.pattern)),
            [
                _matches("R.attr.action", [limit.pattern]),
                f"R.attr.autonomy > {AUTONOMY_LEVELS.index(limit.value)}",
            ],
        )
    top = effective.scalars.get("data.max_class")
    if top is not None:
        b.deny("data.max_class", [f"R.attr.data_rank > {_DATA_RANK[top.value]}"])
    for limit in effective.glob_limits["data.actions"]:
        b.deny(
            format_path(("data", "actions", limit.pattern)),
            [
                _matches("R.attr.action", [limit.pattern]),
                f"R.attr.data_rank > {_DATA_RANK[limit.value]}",
            ],
        )
    for family, key in (("models", "model"), ("destinations", "destination")):
        for limit in effective.glob_limits[f"data.{family}"]:
            b.deny(
                format_path(("data", family, limit.pattern)),
                [
                    f"has(R.attr.{key})",
                    _matches(f"R.attr.{key}", [limit.pattern]),
                    f"R.attr.data_rank > {_DATA_RANK[limit.value]}",
                ],
            )
    for entity in PII_ENTITIES:
        if effective.value(f"pii.entities.{entity}") == "deny":
            b.deny(f"pii.entities.{entity}", [f"R.attr.pii.{entity} > 0"])
    if effective.value("pii.on_oversize") == "deny":
        b.deny("pii.on_oversize", ["R.attr.payload_oversize"])
    for scope, period, unit in BUDGET_KEYS:
        path = f"budgets.{scope}.{period}.{unit}"
        item = effective.scalars.get(path)
        if item is None:
            continue
        cap = round(float(item.value) * 100) if unit == "usd" else int(item.value)
        if unit == "usd" and abs(cap - float(item.value) * 100) > 1e-6:
            raise ValueError(f"{path}: {item.value} is not a whole number of cents")
        request = "R.attr.cost_cents" if unit == "usd" else "R.attr.tokens"
        b.deny(path, [f"R.attr.usage.{scope}_{period}_{unit} + {request} > {cap}"])
    for sourced in effective.rules:
        rule = sourced.rule
        when = [_matches("R.attr.action", list(rule.match.actions))]
        if rule.match.resources is not None:
            when.append(_matches("R.id", list(rule.match.resources)))
        for key, glob in rule.match.labels.items():
            when += [
                f"{_string(key)} in R.attr.labels",
                _matches(f"R.attr.labels[{_string(key)}]", [glob]),
            ]
        if rule.condition is not None:
            try:
                when.append(f"({conditions[rule.condition]})")
            except KeyError:
                raise ValueError(
                    f"rule {rule.id}: no Cerbos translation of {rule.condition!r}"
                ) from None
        b.deny(rule.id, when, effect=rule.effect)
    return CerbosPolicy(b.text(), dict(b.effects), dict(b.rule_ids))


# ------------------------------------------------------------------------------------ requests


def _cents(usd: float) -> int:
    return round(usd * 100)


def cerbos_resource(case: Case, *, agency: str = AGENCY) -> dict[str, Any]:
    """The ``resource`` of a check of ``case`` (see the module doc)."""
    usage = case.eval_context().budget
    attr: dict[str, Any] = {
        "agency": agency,
        "action": case.action_type,
        "autonomy": case.autonomy,
        "data_rank": _DATA_RANK[case.data_class],
        "data_class": case.data_class,
        "cost_cents": _cents(case.cost_usd),
        "tokens": case.tokens,
        "usage": {
            f"{scope}_{period}_{unit}": _cents(getattr(usage, f"{scope}_{period}_{unit}"))
            if unit == "usd"
            else getattr(usage, f"{scope}_{period}_{unit}")
            for scope, period, unit in BUDGET_KEYS
        },
        "pii": {entity: case.pii.get(entity, 0) for entity in PII_ENTITIES},
        "payload_oversize": case.oversize,
        "recent_violations": case.recent_violations,
        "labels": dict(case.labels),
        "request": dict(case.extra),
    }
    if case.model is not None:
        attr["model"] = case.model
    if case.destination is not None:
        attr["destination"] = case.destination
    return {"kind": KIND, "id": case.resource, "attr": attr}


def as_sent(case: Case) -> Case:
    """What the engine knows of ``case`` when it comes over HTTP (``Case.http_body``) from a
    fresh agent: the payload sent (a short one, so never oversize) and no recent violations
    (the engine counts them itself; the agents of the load never earn any that would matter).
    The PII counts stand: the engine finds them in the payload."""
    return dataclasses.replace(case, oversize=False, recent_violations=0)


def check_body(
    case: Case, agent_id: str | None = None, *, agency: str = AGENCY, request_id: str = "bench"
) -> dict[str, Any]:
    """The ``POST /api/check/resources`` body that asks what ``POST /v1/authorize`` of
    ``case`` (by ``agent_id``) asks: one resource, both actions."""
    return {
        "requestId": request_id,
        "principal": {
            "id": agent_id or case.agent_id,
            "roles": ["agent"],
            "attr": {"agency": agency},
        },
        "resources": [{"actions": list(ACTIONS), "resource": cerbos_resource(case)}],
    }


def decision_of(actions: Mapping[str, str]) -> Decision:
    """The three-way decision of one resource's ``actions`` in a check's answer."""
    if actions.get(ACT) == "EFFECT_ALLOW":
        return "allow"
    if actions.get(ACT_APPROVED) == "EFFECT_ALLOW":
        return "require_approval"
    return "deny"


def decisions_of(answer: Mapping[str, Any]) -> list[Decision]:
    """The decision of every resource of a check's answer, in order."""
    return [decision_of(result["actions"]) for result in answer["results"]]


# -------------------------------------------------------------------------------- the server


class CerbosUnavailable(RuntimeError):
    """No Cerbos binary that runs on this machine."""


def binary() -> Path:
    """The Cerbos server: ``$CORTEX_CERBOS_BIN``, else the one ``make tools`` installs, else
    ``cerbos`` on the PATH. ``CerbosUnavailable`` when none exists (the npm package exists
    for linux-x64 only here)."""
    configured = os.environ.get(BINARY_ENV)
    if configured:
        return Path(configured)
    if PACKAGED_BINARY.exists():
        return PACKAGED_BINARY
    found = shutil.which("cerbos")
    if found:
        return Path(found)
    machine = f"{platform.system().lower()}-{platform.machine()}"
    raise CerbosUnavailable(
        f"no Cerbos server: run `make tools` (installs {PACKAGED_BINARY.relative_to(ROOT)}, "
        f"linux-x64 only; this machine is {machine}) or set {BINARY_ENV}"
    )


@dataclass(frozen=True)
class CerbosServer:
    url: str
    pid: int

    def check(self, client: httpx.Client, body: Mapping[str, Any]) -> dict[str, Any]:
        answer = client.post(self.url + CHECK, json=body)
        if answer.status_code != 200:
            raise RuntimeError(f"Cerbos check: {answer.status_code} {answer.text}")
        result: dict[str, Any] = answer.json()
        return result


@contextlib.contextmanager
def cerbos_server(root: Path, policy: CerbosPolicy) -> Iterator[CerbosServer]:
    """``cerbos server`` on a free port with ``policy`` on disk, ready; SIGINT after. Logs at
    ``warn`` (at ``info`` it writes one line per request), no audit log."""
    policies = root / "policies"
    policies.mkdir(parents=True, exist_ok=True)
    (policies / f"{KIND}.yaml").write_text(policy.text)
    port, grpc_port, debug_port = free_port(), free_port(), free_port()
    config = {
        "server": {"httpListenAddr": f"{HOST}:{port}", "grpcListenAddr": f"{HOST}:{grpc_port}"},
        "storage": {"driver": "disk", "disk": {"directory": str(policies)}},
        "audit": {"enabled": False},
        "telemetry": {"disabled": True},
    }
    config_path = root / "cerbos.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = root / "cerbos.log"
    command = [
        str(binary()),
        "server",
        f"--config={config_path}",
        "--log-level=warn",
        f"--debug-listen-addr={HOST}:{debug_port}",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=log, cwd=root)
    url = f"http://{HOST}:{port}"
    try:
        _wait_ready(url, proc, log_path)
        yield CerbosServer(url, proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"cerbos exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}"
                )
            try:
                health = client.get(url + HEALTH)
                if health.status_code == 200:
                    return
                last = health.text
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.05)
    raise RuntimeError(f"cerbos not ready after {READY_TIMEOUT_S:.0f} s: {last}")
