"""policy: decisions in-process (ours next to Cedar), the PII tier, and ``/v1/authorize`` over HTTP.

1. **In-process decision, explanation included**: the 20- and 100-rule policies of
   :mod:`benchmarks.policy_cases` go through what publishing does (``parse_policy`` →
   ``merge([Layer(doc, 1, "agency")])`` → ``compile_policy``), then ``evaluate(compiled,
   AuthorizeInput, EvalContext)`` answers every request of ``CASES`` (allow; deny for each kind
   of reason and several at once; require_approval) with every reason, remediation and
   counterfactual, and the risk score. Each call is timed alone with ``perf_counter_ns``,
   after a warm-up pass (the evaluator's per-action memo tables are warm, as in a service).
2. **Cedar** (``cedarpy``, Rust) on the same 20 (and 100) rules and the same requests,
   translated by :mod:`benchmarks.policy_cedar`. The call timed is the public single-request
   ``cedarpy.is_authorized(request, PolicySet, Entities)`` on handles parsed once — the fastest
   way to get one decision (passing the policy text re-parses it on every call, ~10x slower;
   the batch API costs the same per decision). Blocks of ours and Cedar's rounds alternate, so
   both see the same machine. Every decision and every set of blocking rules must be equal in
   both engines, or the suite fails.
3. **PII**: :func:`benchmarks.policy_pii.run_pii_benchmark`, merged as is.
4. **HTTP**: :mod:`benchmarks.policy_http`, with the durable decision log (the default; the
   established metric names) and with the write-behind one (``*_writebehind``), one engine
   process after the other on the same servers; ``GET /healthz`` of the first is the baseline.

Per-call latency on a shared machine includes preemption, and a call 7x longer is preempted
7x more often; the CPU time per decision over a tight loop (``*_cpu_us_*``) is steadier and
gives ``speedup_vs_cedarpy_cpu``.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

import httpx

from benchmarks.common import (
    CpuMeter,
    Metric,
    Metrics,
    Servers,
    embedded_servers,
    interpolated_percentile,
    metric,
    ratio,
)
from benchmarks.policy_cases import (
    AGENCY,
    CASES,
    CEDAR_CONDITIONS,
    POLICY_20,
    POLICY_100,
    compile_text,
    with_agency,
    without_budgets,
)
from benchmarks.policy_cedar import CedarEngine, cedar_request, mismatches, ours, theirs, translate
from benchmarks.policy_http import (
    HEALTHZ_TARGET,
    Load,
    authorize_target,
    decisions,
    load,
    policy_engine,
    publish,
)
from benchmarks.policy_pii import run_pii_benchmark
from cortex_kit.logs import configure_logging
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.domain.decisions.evaluator import evaluate

TARGET_P99_US = 50.0
TARGET_SPEEDUP_CEDAR = 10.0
TARGET_HTTP_P99_MS = 2.0
BUDGET_AGENCY = f"{AGENCY}-budget"
BLOCK_ROUNDS = 50


@dataclass(frozen=True)
class Sizes:
    rounds: int
    """Timed passes over CASES, per engine and policy."""
    throughput_s: float
    """Length of each untimed tight loop (decisions/s, CPU per decision)."""
    http_s: float
    """Length of each HTTP load run."""
    agents: int
    """Agent ids the HTTP request bodies are spread over (times the cases)."""
    http_passes: int
    """Sequential passes over CASES whose server-reported ``evaluated_us`` is kept."""


FULL = Sizes(rounds=1000, throughput_s=2.0, http_s=10.0, agents=64, http_passes=10)
QUICK = Sizes(rounds=100, throughput_s=0.3, http_s=2.0, agents=8, http_passes=2)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _fail(message: str) -> NoReturn:
    raise SystemExit(f"policy benchmark FAILED: {message}")


# --------------------------------------------------------------------------- in-process


Call = Callable[[], object]


@dataclass
class Timing:
    samples_ns: list[int]
    per_s: float = 0.0
    cpu_us: float = 0.0

    def p(self, q: float) -> float:
        return round(interpolated_percentile(self.samples_ns, q) / 1000, 2)


def _time_round(calls: Sequence[Call], into: list[int]) -> None:
    clock = time.perf_counter_ns
    for call in calls:
        started = clock()
        call()
        into.append(clock() - started)


def _tight_loop(calls: Sequence[Call], seconds: float) -> tuple[float, float]:
    """Untimed calls for about ``seconds``: (decisions per second, CPU µs per decision)."""
    count = 0
    wall, cpu = time.perf_counter(), time.thread_time()
    deadline = wall + seconds
    while time.perf_counter() < deadline:
        for call in calls:
            call()
        count += len(calls)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return count / wall, cpu / count * 1e6


def measure(engines: dict[str, Sequence[Call]], sizes: Sizes) -> dict[str, Timing]:
    """Per-call latencies over ``sizes.rounds`` rounds per engine, then a tight loop each.

    Engines take turns in blocks of ``BLOCK_ROUNDS`` rounds: each sees the same spells of a
    busy machine, and none runs right after the other has filled the CPU caches with its own
    code and data (switching every round raised our p99 by about 2x, Cedar's more).
    """
    timings = {name: Timing([]) for name in engines}
    for calls in engines.values():  # warm-up
        for call in calls:
            call()
    gc.collect()
    for start in range(0, sizes.rounds, BLOCK_ROUNDS):
        for name, calls in engines.items():
            for _ in range(min(BLOCK_ROUNDS, sizes.rounds - start)):
                _time_round(calls, timings[name].samples_ns)
    for name, calls in engines.items():
        timings[name].per_s, timings[name].cpu_us = _tight_loop(calls, sizes.throughput_s)
    return timings


@dataclass(frozen=True)
class Policies:
    compiled: dict[int, CompiledPolicy]
    cedar: dict[int, CedarEngine]


def prepare() -> Policies:
    """Compile both policies, translate them to Cedar and cross-check every decision."""
    compiled = {20: compile_text(POLICY_20), 100: compile_text(POLICY_100)}
    cedar: dict[int, CedarEngine] = {}
    for size, policy in compiled.items():
        cedar_policy = translate(policy.effective, CEDAR_CONDITIONS)
        rules = len(policy.rules) + len(cedar_policy.effects) - len(policy.effective.rules)
        if cedar_policy.rules != size or rules != size:
            _fail(f"the {size}-rule policy has {cedar_policy.rules} blocking rules")
        cedar[size] = CedarEngine.build(cedar_policy, CASES)
        results = [evaluate(policy, c.authorize_input(), c.eval_context()) for c in CASES]
        if size == 20:
            wrong = [
                f"{case.name}: {r.decision} (expected {case.expect})"
                for case, r in zip(CASES, results, strict=True)
                if r.decision != case.expect
            ]
            if wrong:
                _fail("unexpected decisions: " + "; ".join(wrong))
        ours_ = [ours(r) for r in results]
        try:
            theirs_ = [
                theirs(cedar[size].authorize(cedar_request(c)), cedar_policy.effects) for c in CASES
            ]
        except ValueError as exc:
            _fail(f"Cedar, {size} rules: {exc}")
        differ = mismatches(CASES, ours_, theirs_)
        if differ:
            _fail(f"{len(differ)} decision(s) differ from Cedar's, {size} rules: {differ}")
        mix = Counter(o.decision for o in ours_)
        _log(
            f"{size} rules: {len(CASES)} requests {dict(mix)}, equal in Cedar "
            f"({cedar_policy.rules} forbid policies + 1 permit)"
        )
    return Policies(compiled, cedar)


def in_process(policies: Policies, sizes: Sizes) -> Metrics:
    engines: dict[str, Sequence[Call]] = {}
    for size in (20, 100):
        policy, engine = policies.compiled[size], policies.cedar[size]
        inputs = [(c.authorize_input(), c.eval_context()) for c in CASES]
        requests = [cedar_request(c) for c in CASES]
        # partial: a C-level call wrapper, the same for both engines
        engines[f"ours_{size}"] = [partial(evaluate, policy, i, x) for i, x in inputs]
        engines[f"cedar_{size}"] = [partial(engine.authorize, r) for r in requests]
    t = measure(engines, sizes)
    for name, timing in t.items():
        _log(
            f"[{name}] {len(timing.samples_ns)} calls: p50 {timing.p(50)} µs, p99 {timing.p(99)} "
            f"µs, mean {statistics.fmean(timing.samples_ns) / 1000:.1f} µs; tight loop "
            f"{timing.per_s:,.0f}/s, CPU {timing.cpu_us:.1f} µs/decision"
        )
    us, rate = "µs", "decisions/s"
    out: Metrics = {}
    for size in (20, 100):
        o, c = t[f"ours_{size}"], t[f"cedar_{size}"]
        target = TARGET_P99_US if size == 20 else None
        out |= {
            f"decision_p50_us_{size}": metric(o.p(50), us, better="lower"),
            f"decision_p99_us_{size}": metric(o.p(99), us, better="lower", target=target),
            f"decisions_per_s_{size}": metric(round(o.per_s, 1), rate, better="higher"),
            f"decision_cpu_us_{size}": metric(round(o.cpu_us, 2), us, better="lower"),
            f"cedarpy_p50_us_{size}": metric(c.p(50), us, better="lower"),
            f"cedarpy_p99_us_{size}": metric(c.p(99), us, better="lower"),
            f"cedarpy_decisions_per_s_{size}": metric(round(c.per_s, 1), rate, better="higher"),
            f"cedarpy_cpu_us_{size}": metric(round(c.cpu_us, 2), us, better="lower"),
        }
    speedups = {
        "speedup_vs_cedarpy": (t["cedar_20"].p(99), t["ours_20"].p(99)),
        "speedup_vs_cedarpy_p50": (t["cedar_20"].p(50), t["ours_20"].p(50)),
        "speedup_vs_cedarpy_cpu": (t["cedar_20"].cpu_us, t["ours_20"].cpu_us),
        "speedup_vs_cedarpy_100": (t["cedar_100"].p(99), t["ours_100"].p(99)),
    }
    for name, (theirs_, ours_) in speedups.items():
        target = TARGET_SPEEDUP_CEDAR if name == "speedup_vs_cedarpy" else None
        out[name] = metric(ratio(theirs_, ours_), "x", better="higher", target=target)
    out["cedar_crosscheck_requests"] = metric(2 * len(CASES), "requests", better="higher")
    out["cedar_crosscheck_mismatches"] = metric(0, "requests", better="lower", target=0)
    return out


# ------------------------------------------------------------------------------------ HTTP


def _engine_runs(
    servers: Servers, sizes: Sizes, *, durable_log: bool, with_healthz: bool
) -> tuple[dict[str, Load], dict[str, list[float]]]:
    """One engine process: the authorize loads (and the healthz baseline) on it, and the
    ``evaluated_us`` of sequential requests per agency."""
    mode = "durable" if durable_log else "write-behind"
    with policy_engine(servers, durable_log=durable_log) as service:
        url = service.url
        _log(f"policy-engine ({mode} decision log) pid {service.pid} at {url}")
        with httpx.Client(timeout=10.0) as client:
            publish(client, url, AGENCY, without_budgets(POLICY_20))
            publish(client, url, BUDGET_AGENCY, with_agency(POLICY_20, BUDGET_AGENCY))
            evaluated: dict[str, list[float]] = {}
            for agency in (AGENCY, BUDGET_AGENCY):
                mix, evaluated[agency] = decisions(client, url, agency, sizes.http_passes)
                _log(
                    f"[{agency}] decisions over HTTP: {dict(mix)}; evaluated_us p50 "
                    f"{interpolated_percentile(evaluated[agency], 50):.0f}, p99 "
                    f"{interpolated_percentile(evaluated[agency], 99):.0f}"
                )
        meter = CpuMeter({"policy_engine": service.pid, "postgres": servers.postgres.pid})
        plan: list[tuple[str, Any, int]] = [
            ("authorize_c1", authorize_target(AGENCY, sizes.agents), 1),
            ("authorize_c16", authorize_target(AGENCY, sizes.agents), 16),
            ("budget_c1", authorize_target(BUDGET_AGENCY, sizes.agents), 1),
            ("budget_c16", authorize_target(BUDGET_AGENCY, sizes.agents), 16),
        ]
        if with_healthz:
            plan.insert(2, ("healthz_c16", HEALTHZ_TARGET, 16))
        runs: dict[str, Load] = {}
        for label, target, connections in plan:
            runs[label] = load(url, target, connections, sizes.http_s, meter)
            _log(runs[label].describe(f"{mode} {label}"))
    errors = {label: run.errors for label, run in runs.items() if run.errors}
    if errors:
        _fail(f"HTTP errors ({mode} log; non-2xx, timeouts, socket errors): {errors}")
    return runs, evaluated


def http(sizes: Sizes) -> Metrics:
    """Durable decision log (the default) under the established names; the write-behind log
    (``CORTEX_POLICY_ENGINE_DECISION_LOG_DURABLE=false``) beside them as ``*_writebehind``."""
    with embedded_servers(durable=True) as servers:
        runs, evaluated = _engine_runs(servers, sizes, durable_log=True, with_healthz=True)
        behind, _ = _engine_runs(servers, sizes, durable_log=False, with_healthz=False)
    a1, a16, h16 = runs["authorize_c1"], runs["authorize_c16"], runs["healthz_c16"]
    b1, b16 = runs["budget_c1"], runs["budget_c16"]
    w1, w16 = behind["authorize_c1"], behind["authorize_c16"]
    wb1, wb16 = behind["budget_c1"], behind["budget_c16"]
    ms, rps, cpu = "ms", "requests/s", "µs/request"

    def p(value: float) -> Metric:
        return metric(round(value, 3), ms, better="lower")

    def us(values: list[float], q: float) -> Metric:
        return metric(round(interpolated_percentile(values, q), 1), "µs", better="lower")

    def per_s(run: Load) -> Metric:
        return metric(round(run.rps, 1), rps, better="higher")

    return {
        "authorize_http_p50_ms_c1": p(a1.p50_ms),
        "authorize_http_p99_ms_c1": metric(
            round(a1.p99_ms, 3), ms, better="lower", target=TARGET_HTTP_P99_MS
        ),
        "authorize_http_rps_c16": per_s(a16),
        "authorize_http_p99_ms_c16": p(a16.p99_ms),
        "healthz_rps_c16": per_s(h16),
        "authorize_vs_healthz_ratio": metric(ratio(a16.rps, h16.rps), "ratio", better="higher"),
        "authorize_http_p50_ms_c1_writebehind": p(w1.p50_ms),
        "authorize_http_p99_ms_c1_writebehind": p(w1.p99_ms),
        "authorize_http_rps_c16_writebehind": per_s(w16),
        "authorize_http_p99_ms_c16_writebehind": p(w16.p99_ms),
        "authorize_vs_healthz_ratio_writebehind": metric(
            ratio(w16.rps, h16.rps), "ratio", better="higher"
        ),
        "authorize_http_p50_ms_c1_budget": p(b1.p50_ms),
        "authorize_http_p99_ms_c1_budget": p(b1.p99_ms),
        "authorize_http_rps_c16_budget": per_s(b16),
        "authorize_http_p99_ms_c16_budget": p(b16.p99_ms),
        "authorize_http_p99_ms_c1_budget_writebehind": p(wb1.p99_ms),
        "authorize_http_rps_c16_budget_writebehind": per_s(wb16),
        "authorize_http_server_cpu_us_c16": metric(
            a16.cpu_us_per_request("policy_engine"), cpu, better="lower"
        ),
        "authorize_http_postgres_cpu_us_c16": metric(
            a16.cpu_us_per_request("postgres"), cpu, better="lower"
        ),
        "authorize_http_server_cpu_us_c16_writebehind": metric(
            w16.cpu_us_per_request("policy_engine"), cpu, better="lower"
        ),
        "authorize_http_server_cpu_us_c16_budget": metric(
            b16.cpu_us_per_request("policy_engine"), cpu, better="lower"
        ),
        "authorize_http_postgres_cpu_us_c16_budget": metric(
            b16.cpu_us_per_request("postgres"), cpu, better="lower"
        ),
        # What the service reports as spent inside authorize (policy cache, PII scan, decision,
        # budget reads and reservation; not the decision log's commit), sequential requests:
        # the rest of the HTTP latency is the log, the web stack, the transport and the client.
        "authorize_evaluated_us_p50": us(evaluated[AGENCY], 50),
        "authorize_evaluated_us_p99": us(evaluated[AGENCY], 99),
        "authorize_evaluated_us_p50_budget": us(evaluated[BUDGET_AGENCY], 50),
        "healthz_server_cpu_us_c16": metric(
            h16.cpu_us_per_request("policy_engine"), cpu, better="lower"
        ),
    }


# ------------------------------------------------------------------------------------- run


def run(*, quick: bool) -> Metrics:
    configure_logging("bench", "ERROR", as_json=False)
    sizes = QUICK if quick else FULL
    policies = prepare()
    metrics = in_process(policies, sizes)
    started = time.perf_counter()
    metrics |= run_pii_benchmark(quick)
    _log(f"PII tier: {time.perf_counter() - started:.1f} s")
    metrics |= http(sizes)
    return metrics
