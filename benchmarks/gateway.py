"""gateway: ``POST /v1/authorize`` through the real gateway, beside the policy engine alone.

``python -m gateway`` and ``python -m policy_engine`` run as subprocesses (uvicorn, uvloop,
httptools — as deployed) on a private NATS and PostgreSQL. The agency ``bench`` gets the
20-rule policy without its budgets (the policy suite's HTTP tier); an ``agent`` key of that
agency is created through the gateway. The engine runs with its write-behind decision log, so
what is measured is the gateway's own cost: authentication (the key cache), the signed call to
the engine and the relay of its answer.

Same run, same processes, load from ``wrk`` (else the asyncio generator of the policy suite):

- ``GET /healthz`` of the gateway at 16 connections (the HTTP stack alone);
- authorize through the gateway at 1 and 16 connections;
- authorize straight to the engine at 16 connections.

``gateway_overhead_ratio`` is authorize's rate through the gateway ÷ straight to the engine
(1.0: the gateway costs nothing); ``authorize_vs_healthz_ratio`` its rate ÷ the gateway's
``/healthz``.

``CORTEX_BENCH_BASELINE_SOURCE=DIR`` (a checkout of another commit, e.g. a ``git worktree``)
measures that checkout's gateway and engine the same way in the same run, before this one,
and reports its figures as ``baseline_*`` with the ratios of the two.

Cerbos, the peer (:mod:`benchmarks.policy_cerbos`): a real Cerbos server (``make tools``)
answers the same policy, translated, over its HTTP API (``POST /api/check/resources``) in the
same run, on the same requests (same cases, same agent ids, same order, as sent over HTTP:
``policy_cerbos.as_sent``), at 16 connections.
Before timing, every case is asked of the gateway and of Cerbos, and the run fails if a
decision differs. ``ratio_vs_cerbos`` is authorize's rate through the gateway ÷ Cerbos's
(goal ≥ 1.5, with ``authorize_p99_ms_c16`` ≤ ``cerbos_p99_ms_c16``). What Cerbos does not do
here and the gateway path does: authenticate an API key, scan the payload for PII (Cerbos
gets the counts ready-made), mask it, and log the decision.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from benchmarks import preflight
from benchmarks.common import CpuMeter, Metric, Metrics, Servers, embedded_servers, metric, ratio
from benchmarks.policy_cases import AGENCY, CASES, POLICY_20, compile_text, without_budgets
from benchmarks.policy_cerbos import (
    CERBOS_CONDITIONS,
    CHECK,
    CerbosServer,
    as_sent,
    cerbos_server,
    check_body,
    decisions_of,
    translate,
)
from benchmarks.policy_http import (
    HEALTHZ_TARGET,
    HOST,
    INTERNAL_SECRET,
    Load,
    Target,
    authorize_target,
    load,
    policy_engine,
    publish,
    served_process,
)
from cortex_kit.embedded import free_port

ADMIN_KEY = "cvc_0123456789ab_" + "B" * 43
#: The policy of the agency ``bench`` (and, translated, Cerbos's).
POLICY = without_budgets(POLICY_20)
#: Goal of the issue: the gateway at least 1.5 times Cerbos's rate (1.0 at the very least).
TARGET_RATIO_VS_CERBOS = 1.5
BASELINE_SOURCE = "CORTEX_BENCH_BASELINE_SOURCE"
# The measured gateway limits every key, as deployed, at a limit this load never reaches: a
# key whose limit is above its traffic costs one shared-bucket statement per lease.
RATE_LIMITED = {
    "CORTEX_GATEWAY_RATE_LIMIT_PER_S": "1000000",
    "CORTEX_GATEWAY_RATE_LIMIT_BURST": "2000000",
}
# Authorize at 16 connections again, same run, same database and key, on gateways that differ
# only by their rate limit: none at all, and the naive one statement per request (a lease of
# one token). ``rate_limit_cost_ratio`` = rate with the limit ÷ rate without.
RATE_LIMIT_VARIANTS: dict[str, dict[str, str]] = {
    "no_rate_limit": {"CORTEX_GATEWAY_RATE_LIMIT_ENABLED": "false"},
    "rate_limit_per_request": {**RATE_LIMITED, "CORTEX_GATEWAY_RATE_LIMIT_LEASE_S": "1e-9"},
}


@dataclass(frozen=True)
class Sizes:
    http_s: float
    agents: int


FULL = Sizes(http_s=10.0, agents=64)
QUICK = Sizes(http_s=2.0, agents=8)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _source_env(source: Path | None) -> dict[str, str]:
    """Environment that imports the processes from ``source`` (None: this checkout)."""
    if source is None:
        return {}
    paths = [source / "libs", source / "services", source]
    return {"PYTHONPATH": os.pathsep.join(str(p) for p in paths)}


@contextlib.contextmanager
def gateway(
    servers: Servers,
    engine_url: str,
    database: str,
    source: Path | None,
    extra: Mapping[str, str] = RATE_LIMITED,
) -> Iterator[tuple[str, int]]:
    """``python -m gateway`` in front of ``engine_url``, ready; its URL and pid."""
    servers.postgres.ensure_database(database)
    port = free_port()
    env = {
        **os.environ,
        **_source_env(source),
        "CORTEX_GATEWAY_PORT": str(port),
        "CORTEX_GATEWAY_HOST": HOST,
        "CORTEX_GATEWAY_DATABASE_URL": servers.postgres.url(database),
        "CORTEX_GATEWAY_NATS_URL": servers.nats.url,
        "CORTEX_GATEWAY_LOG_LEVEL": "WARNING",
        "CORTEX_GATEWAY_POLICY_ENGINE_URL": engine_url,
        "CORTEX_GATEWAY_INTERNAL_SECRET": INTERNAL_SECRET,
        "CORTEX_GATEWAY_SECRETS_KEY": Fernet.generate_key().decode(),
        "CORTEX_GATEWAY_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        **extra,
    }
    # In ``source``: ``-m`` puts the working directory first on the path, and the gateway's
    # package is a top-level directory of a checkout.
    log_path = servers.root / f"{database}-{free_port()}.log"
    with served_process("gateway", port, env, log_path, cwd=source) as proc:
        yield f"http://{HOST}:{port}", proc.pid


def agent_key(client: httpx.Client, gateway_url: str) -> str:
    answer = client.post(
        gateway_url + "/v1/keys",
        json={"agency": AGENCY, "role": "agent", "name": "bench"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"creating the agent key: {answer.status_code} {answer.text}")
    key: str = answer.json()["key"]
    return key


def through_gateway(target: Target, key: str) -> Target:
    """The engine's authorize target as a caller of the gateway sends it (no agency header,
    no internal signature: the key says who calls)."""
    return Target(
        target.method,
        target.path,
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        target.bodies,
    )


def check_answers(
    client: httpx.Client, gateway_url: str, key: str, cerbos: CerbosServer | None = None
) -> None:
    """Every case through the gateway answers 200 with a decision — and, given ``cerbos``,
    the decision Cerbos answers for the same request."""
    differ: list[str] = []
    for i, case in enumerate(CASES):
        answer = client.post(
            gateway_url + "/v1/authorize",
            json=case.http_body(f"check-{i}"),
            headers={"Authorization": f"Bearer {key}"},
        )
        if answer.status_code != 200 or "decision" not in answer.json():
            raise RuntimeError(
                f"{case.name} through the gateway: {answer.status_code} {answer.text}"
            )
        if cerbos is not None:
            ours = answer.json()["decision"]
            (theirs,) = decisions_of(cerbos.check(client, check_body(as_sent(case), f"check-{i}")))
            if ours != theirs:
                differ.append(f"{case.name}: gateway {ours} ≠ cerbos {theirs}")
    if differ:
        raise SystemExit(f"gateway benchmark FAILED: decisions differ from Cerbos's: {differ}")


def cerbos_target(agents: int) -> Target:
    """``authorize_target``'s requests (same cases, agent ids and order) as Cerbos checks."""
    bodies = [
        json.dumps(check_body(as_sent(case), f"agent-{n}-{i}"), separators=(",", ":")).encode()
        for n in range(agents)
        for i, case in enumerate(CASES)
    ]
    return Target("POST", CHECK, {"Content-Type": "application/json"}, bodies)


def measure(
    servers: Servers,
    sizes: Sizes,
    label: str,
    source: Path | None,
    cerbos: CerbosServer | None = None,
) -> dict[str, Load]:
    """The four loads on one gateway + engine pair imported from ``source`` (and, given
    ``cerbos``, the same requests to Cerbos at 16 connections: ``cerbos_c16``)."""
    env = _source_env(source)
    with (
        _environment(env),
        policy_engine(servers, durable_log=False, database=f"policy_{label}") as engine,
        gateway(servers, engine.url, f"gateway_{label}", source) as (gateway_url, gateway_pid),
    ):
        _log(f"[{label}] engine pid {engine.pid} at {engine.url}, gateway pid {gateway_pid}")
        with httpx.Client(timeout=10.0) as client:
            publish(client, engine.url, AGENCY, POLICY)
            key = agent_key(client, gateway_url)
            check_answers(client, gateway_url, key, cerbos)
        direct = authorize_target(AGENCY, sizes.agents)
        through = through_gateway(direct, key)
        pids = {"gateway": gateway_pid, "policy_engine": engine.pid}
        meter = CpuMeter(pids | ({"cerbos": cerbos.pid} if cerbos else {}))
        # Cerbos first: a load after the gateway's would share the CPU with the engine's
        # write-behind decision log, still flushing.
        plan: list[tuple[str, str, Target, int]] = []
        if cerbos is not None:
            plan.append(("cerbos_c16", cerbos.url, cerbos_target(sizes.agents), 16))
        plan += [
            ("healthz_c16", gateway_url, HEALTHZ_TARGET, 16),
            ("authorize_c1", gateway_url, through, 1),
            ("authorize_c16", gateway_url, through, 16),
            ("direct_c16", engine.url, direct, 16),
        ]
        runs: dict[str, Load] = {}
        for name, url, target, connections in plan:
            runs[name] = load(url, target, connections, sizes.http_s, meter)
            _log(runs[name].describe(f"{label} {name}"))
        if source is None:
            runs |= rate_limit_variants(servers, sizes, engine.url, f"gateway_{label}", through)
    errors = {name: run.errors for name, run in runs.items() if run.errors}
    if errors:
        raise SystemExit(f"gateway benchmark FAILED: HTTP errors in {label}: {errors}")
    return runs


def rate_limit_variants(
    servers: Servers, sizes: Sizes, engine_url: str, database: str, through: Target
) -> dict[str, Load]:
    """Authorize at 16 connections on a gateway per variant (same database, same key)."""
    runs: dict[str, Load] = {}
    for variant, extra in RATE_LIMIT_VARIANTS.items():
        with gateway(servers, engine_url, database, None, extra) as (url, pid):
            meter = CpuMeter({"gateway": pid})
            name = f"authorize_c16_{variant}"
            runs[name] = load(url, through, 16, sizes.http_s, meter)
            _log(runs[name].describe(name))
    return runs


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` while the block runs (the engine's subprocess inherits
    it)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def figures(runs: Mapping[str, Load], prefix: str = "") -> Metrics:
    h16, a1, a16, d16 = (
        runs[n] for n in ("healthz_c16", "authorize_c1", "authorize_c16", "direct_c16")
    )
    ms, rps = "ms", "requests/s"

    def lower(value: float, unit: str = ms) -> Metric:
        return metric(round(value, 3), unit, better="lower")

    def higher(value: float, unit: str = rps) -> Metric:
        return metric(round(value, 3), unit, better="higher")

    variants = {
        f"{prefix}{metric_name}": value
        for name, metric_name, value in _rate_limit_figures(runs, a16, higher, lower)
    }
    return variants | {
        f"{prefix}authorize_rps_c16": higher(a16.rps),
        f"{prefix}authorize_p50_ms_c16": lower(a16.p50_ms),
        f"{prefix}authorize_p99_ms_c16": lower(a16.p99_ms),
        f"{prefix}authorize_p50_ms_c1": lower(a1.p50_ms),
        f"{prefix}authorize_p99_ms_c1": lower(a1.p99_ms),
        f"{prefix}direct_authorize_rps_c16": higher(d16.rps),
        f"{prefix}direct_authorize_p99_ms_c16": lower(d16.p99_ms),
        f"{prefix}healthz_rps_c16": higher(h16.rps),
        f"{prefix}gateway_overhead_ratio": higher(ratio(a16.rps, d16.rps), "ratio"),
        f"{prefix}authorize_vs_healthz_ratio": higher(ratio(a16.rps, h16.rps), "ratio"),
        f"{prefix}gateway_cpu_us_per_authorize": lower(
            a16.cpu_us_per_request("gateway"), "µs/request"
        ),
    }


def cerbos_figures(runs: Mapping[str, Load]) -> Metrics:
    """Cerbos beside the gateway, from the same run."""
    a16, c16 = runs["authorize_c16"], runs["cerbos_c16"]
    return {
        "cerbos_rps_c16": metric(round(c16.rps, 3), "requests/s", better="higher"),
        "cerbos_p50_ms_c16": metric(round(c16.p50_ms, 3), "ms", better="lower"),
        "cerbos_p99_ms_c16": metric(round(c16.p99_ms, 3), "ms", better="lower"),
        "cerbos_cpu_us_per_check": metric(
            c16.cpu_us_per_request("cerbos"), "µs/request", better="lower"
        ),
        "ratio_vs_cerbos": metric(
            ratio(a16.rps, c16.rps), "ratio", better="higher", target=TARGET_RATIO_VS_CERBOS
        ),
        "authorize_p99_vs_cerbos_p99": metric(
            ratio(a16.p99_ms, c16.p99_ms), "ratio", better="lower", target=1.0
        ),
        # CPU per decision is steadier than rates on a shared machine: the gateway's and the
        # engine's per authorize ÷ Cerbos's per check.
        "authorize_cpu_vs_cerbos_ratio": metric(
            ratio(
                a16.cpu_us_per_request("gateway") + a16.cpu_us_per_request("policy_engine"),
                c16.cpu_us_per_request("cerbos"),
            ),
            "ratio",
            better="lower",
        ),
    }


def _rate_limit_figures(
    runs: Mapping[str, Load],
    limited: Load,
    higher: Callable[..., Metric],
    lower: Callable[..., Metric],
) -> Iterator[tuple[str, str, Metric]]:
    for variant in RATE_LIMIT_VARIANTS:
        run = runs.get(f"authorize_c16_{variant}")
        if run is None:
            continue
        yield variant, f"authorize_rps_c16_{variant}", higher(run.rps)
        yield variant, f"authorize_p99_ms_c16_{variant}", lower(run.p99_ms)
        cpu = run.cpu_us_per_request("gateway")
        yield variant, f"gateway_cpu_us_per_authorize_{variant}", lower(cpu, "µs/request")
    unlimited = runs.get("authorize_c16_no_rate_limit")
    if unlimited is not None:
        yield "ratio", "rate_limit_cost_ratio", higher(ratio(limited.rps, unlimited.rps), "ratio")
        per_request = runs.get("authorize_c16_rate_limit_per_request")
        if per_request is not None:
            value = ratio(per_request.rps, unlimited.rps)
            yield "ratio", "rate_limit_per_request_ratio", higher(value, "ratio")


def run(*, quick: bool) -> Metrics:
    sizes = QUICK if quick else FULL
    baseline = os.environ.get(BASELINE_SOURCE)
    cerbos_policy = translate(compile_text(POLICY).effective, CERBOS_CONDITIONS)
    with (
        embedded_servers(durable=True) as servers,
        cerbos_server(servers.root / "cerbos", cerbos_policy) as cerbos,
    ):
        _log(f"cerbos pid {cerbos.pid} at {cerbos.url}, {cerbos_policy.rules} rules")
        before = measure(servers, sizes, "baseline", Path(baseline)) if baseline else None
        after = measure(servers, sizes, "current", None, cerbos)
        out = figures(after) | cerbos_figures(after) | preflight.run(servers, quick=quick)
    if before is not None:
        out |= figures(before, "baseline_")
        for name in ("authorize_vs_healthz_ratio", "gateway_overhead_ratio", "authorize_rps_c16"):
            out[f"{name}_vs_baseline"] = metric(
                ratio(out[name]["value"], out[f"baseline_{name}"]["value"]), "x", better="higher"
            )
        _log(json.dumps({"baseline_source": baseline}))
    return out
