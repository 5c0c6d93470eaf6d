"""rollout: the agent registry under a simulated fleet (cortex_sdk.fleet), through the real
gateway and rollout orchestrator.

Private NATS and a durable PostgreSQL (fsync on); ``python -m rollout_orchestrator`` and
``python -m gateway`` run as subprocesses, as ``cortex up`` runs them; the fleet runs in this
process (one ``httpx.AsyncClient`` pool, at most 64 calls in flight, one agent API key), as the
SDK's ``Fleet`` runs it. Each fleet is registered in bulk (COPY into ``rollout.agents``, as
``POST /v1/agents`` writes it): registering is not what is measured.

1. **Heartbeats** (full: 10,000 agents, quick: 2,000): every agent heartbeats every 10 s
   through the gateway for the window (full 120 s, quick 30 s); their start is spread over
   one interval, as real agents start at different times. The orchestrator's peak RSS
   (``VmHWM`` in ``/proc/<pid>/status``, the whole run) is ``heartbeat_rss_mb_10000``;
   ``rss_mb_per_1000_agents`` is that over the fleet in thousands; the CPU each process spent
   over the window, as a share of one core, and per 1,000 heartbeats (steadier than wall time
   on a shared machine); ``heartbeats_per_s`` acknowledged against the offered rate;
   ``heartbeats_lost`` = sent - acknowledged - still in flight (an acknowledged heartbeat is
   committed: the registry answers after its commit); the round trip of each heartbeat (its
   wait for a free slot apart); and the agents whose stored ``last_heartbeat_at`` is older than
   two intervals at the end. **Baseline, same run**: the same fleet for a shorter window
   straight to the orchestrator, signed as the gateway signs: ``heartbeat_gateway_cpu_ratio``
   is the CPU per heartbeat through the gateway (gateway + orchestrator) over that.
2. **Coordination** (full: 1,000 agents long-polling their desired revision through the
   gateway, quick: 200; heartbeats every 300 s, so that the long-poll path is what is
   measured): a deployer pins a new revision on one agent at a time (8 at once),
   ``PUT /v1/agents/{id}/desired`` through the gateway; the time from sending the PUT to the
   agent's ``apply`` being called (same process, same clock) is ``coordination_p99_ms_1000``;
   the PUT's own round trip is the baseline (``coordination_vs_put_p99_ratio``).
3. **Deployments** (``deploy_wall_s_1000``, ``rollback_p95_s_1000``, ``duplicate_effects``),
   written against the deployments API contract of issue 13: one deployment to the fleet in
   batches of 50 (gate windows reported apart), then runs whose every agent turns unhealthy on
   the new revision: the run's ``rolling_back`` transition → the last touched agent back on its
   snapshot revision; an agent applying the same change twice is a duplicate effect. While
   ``GET /v1/deployments`` answers 404 they are not measured and the suite says so (absent from
   the result, never a made-up value).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; pyproject lists no override
import httpx
import yaml

from benchmarks.common import (
    CpuMeter,
    Metrics,
    Process,
    Servers,
    embedded_servers,
    interpolated_percentile,
    metric,
    ratio,
    run_async,
    service_process,
)
from cortex_kit.testing.internal import TEST_SECRETS_KEY, signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER
from cortex_sdk.agent import pool_limits
from cortex_sdk.client import CortexClient
from cortex_sdk.fleet import Applied, Fleet

AGENCY = "fleet"
ORG_BASELINE = Path(__file__).resolve().parent.parent / "docs/examples/policies/org-baseline.yaml"
ADMIN_KEY = "cvc_0123456789ab_" + "R" * 43
HEARTBEAT_S = 10.0
COORDINATION_HEARTBEAT_S = 300.0
COORDINATION_WORKERS = 8
CLIENT_TIMEOUT_S = 120.0
"""An overloaded registry shows as slow heartbeats, not as client-side timeouts counted lost."""
DEPLOYMENT_METRICS = ("deploy_wall_s_1000", "rollback_p95_s_1000", "duplicate_effects")


@dataclass(frozen=True)
class Sizes:
    heartbeat_agents: int
    heartbeat_window_s: float
    direct_window_s: float
    coordination_agents: int
    coordination_samples: int
    deploy_agents: int
    rollback_runs: int


FULL = Sizes(10_000, 120.0, 40.0, 1_000, 1_000, 1_000, 10)
QUICK = Sizes(2_000, 30.0, 15.0, 200, 200, 200, 3)


def _log(message: str) -> None:
    print(f"[rollout] {message}", file=sys.stderr, flush=True)


def _ms(values: list[float], q: float) -> float:
    return round(interpolated_percentile(values, q), 2)


def _proc_status_mb(pid: int, field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


# --- processes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    orchestrator: Process
    gateway: Process
    servers: Servers

    @property
    def dsn(self) -> str:
        return self.servers.postgres.url("bench").replace("+asyncpg", "")


async def _register_in_bulk(cluster: Cluster, ids: list[str], labels: dict[str, str]) -> None:
    """The fleet's registrations COPYed into the registry's table (as ``POST /v1/agents``
    writes them): registering is not what is measured, and 10,000 POSTs would take minutes."""
    now = datetime.now(UTC)
    rows = [
        (AGENCY, agent_id, json.dumps(labels), "simulated", "rev-0", "rev-0", "{}", now)
        for agent_id in ids
    ]
    conn = await asyncpg.connect(cluster.dsn)
    try:
        await conn.execute("DELETE FROM rollout.agents WHERE agency = $1", AGENCY)
        await conn.copy_records_to_table(
            "agents",
            schema_name="rollout",
            records=rows,
            columns=[
                "agency",
                "id",
                "labels",
                "runtime",
                "current_revision",
                "desired_revision",
                "health",
                "registered_at",
            ],
        )
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _cluster(servers: Servers) -> AsyncIterator[Cluster]:
    servers.postgres.ensure_database("bench")
    common = {"DATABASE_URL": servers.postgres.url("bench"), "NATS_URL": servers.nats.url}
    async with (
        service_process(
            "policy_engine", "CORTEX_POLICY_ENGINE_", common, servers.root / "policy-engine.log"
        ) as engine,
        service_process(
            "rollout_orchestrator",
            "CORTEX_ROLLOUT_ORCHESTRATOR_",
            {**common, "POLICY_ENGINE_URL": engine.url},
            servers.root / "rollout-orchestrator.log",
        ) as orchestrator,
        service_process(
            "gateway",
            "CORTEX_GATEWAY_",
            {
                **common,
                "POLICY_ENGINE_URL": engine.url,
                "ROLLOUT_ORCHESTRATOR_URL": orchestrator.url,
                # the simulated fleet shares one agent key (docs/agents.md "Rate limits")
                "RATE_LIMIT_ENABLED": "false",
                "BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
                "SECRETS_KEY": TEST_SECRETS_KEY,
            },
            servers.root / "gateway.log",
        ) as gateway,
    ):
        yield Cluster(orchestrator, gateway, servers)


def _org_policy() -> str:
    """The example org baseline, admitting agencies without a policy of their own and without
    its year-end freeze (the suite must not depend on the date), as JSON."""
    document = yaml.safe_load(ORG_BASELINE.read_text())
    document["spec"]["agencies_without_policy"] = "baseline"
    document["spec"].get("deployments", {}).pop("freeze_windows", None)
    return json.dumps(document)


async def _publish_policy(gateway_url: str) -> None:
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as admin:
        resp = await admin.put(
            "/v1/org/policy", content=_org_policy(), headers={"Content-Type": "application/json"}
        )
    resp.raise_for_status()


async def _key(gateway_url: str, role: str) -> str:
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as admin:
        resp = await admin.post(
            "/v1/keys", json={"agency": AGENCY, "role": role, "name": f"bench-{role}"}
        )
    resp.raise_for_status()
    return str(resp.json()["key"])


def _direct_pool(orchestrator_url: str) -> httpx.AsyncClient:
    """Straight to the orchestrator, signed as the gateway signs its relayed calls."""
    return httpx.AsyncClient(
        base_url=orchestrator_url,
        auth=signed(),
        headers={AGENCY_HEADER: AGENCY, PRINCIPAL_HEADER: "bench-agent"},
        timeout=CLIENT_TIMEOUT_S,
        limits=pool_limits(64),
    )


# --- 1. heartbeats ------------------------------------------------------------------------


@dataclass(frozen=True)
class HeartbeatRun:
    agents: int
    window_s: float
    sent: int
    acknowledged: int
    lost: int
    rtt_ms: list[float]
    cpu_s: dict[str, float]
    without_recent: int

    @property
    def per_s(self) -> float:
        return self.acknowledged / self.window_s if self.window_s else 0.0


async def _without_recent_heartbeat(orchestrator_url: str, ids: set[str], since: datetime) -> int:
    """How many of ``ids`` have no stored heartbeat since ``since`` (read from the registry)."""
    fresh = 0
    after: str | None = None
    async with _direct_pool(orchestrator_url) as http:
        while True:
            params: dict[str, Any] = {"limit": 500} | ({"after": after} if after else {})
            page = (await http.get("/v1/agents", params=params)).raise_for_status().json()
            for agent in page["items"]:
                beat = agent["last_heartbeat_at"]
                if agent["id"] in ids and beat and datetime.fromisoformat(beat) >= since:
                    fresh += 1
            after = page["next_after"]
            if after is None:
                return len(ids) - fresh


async def _heartbeats(
    cluster: Cluster, agents: int, window_s: float, *, key: str | None
) -> HeartbeatRun:
    """``agents`` heartbeating every 10 s for ``window_s``: through the gateway with ``key``,
    else straight to the orchestrator (signed)."""
    rtts: list[float] = []
    if key is not None:
        client, pool = CortexClient(cluster.gateway.url, key), None
    else:
        client, pool = (
            CortexClient(cluster.orchestrator.url),
            _direct_pool(cluster.orchestrator.url),
        )
    fleet = Fleet(
        client,
        agents,
        prefix="hb-",
        poll=False,
        heartbeat_s=HEARTBEAT_S,
        http=pool,
        on_heartbeat=lambda seconds, ok: rtts.append(seconds * 1000) if ok else None,
    )
    meter = CpuMeter(
        {
            "orchestrator": cluster.orchestrator.pid,
            "gateway": cluster.gateway.pid,
            "postgres": cluster.servers.postgres.pid,
        }
    )
    try:
        await fleet.start(stagger_s=HEARTBEAT_S)
        _log(f"{agents:,} agents started; heartbeating for {window_s:.0f} s")
        rtts.clear()
        sent0, acked0, _ = fleet.heartbeats()
        meter.start()
        started = time.perf_counter()
        await asyncio.sleep(window_s)
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
        sent, acked, in_flight = fleet.heartbeats()
        window_rtts = list(rtts)  # the window's: stopping the fleet cancels the waiting ones
        since = datetime.now(UTC) - timedelta(seconds=2 * HEARTBEAT_S)
        stale = await _without_recent_heartbeat(cluster.orchestrator.url, set(fleet.ids), since)
    finally:
        await fleet.stop()
    return HeartbeatRun(
        agents=agents,
        window_s=elapsed,
        sent=sent - sent0,
        acknowledged=acked - acked0,
        lost=sent - acked - in_flight,
        rtt_ms=window_rtts,
        cpu_s=cpu,
        without_recent=stale,
    )


def _log_heartbeats(name: str, run: HeartbeatRun) -> None:
    shares = ", ".join(f"{k} {v / run.window_s:.2f}" for k, v in sorted(run.cpu_s.items()))
    _log(
        f"{name}: {run.acknowledged:,} heartbeats in {run.window_s:.0f} s "
        f"({run.per_s:,.0f}/s of {run.agents / HEARTBEAT_S:,.0f}/s wanted), lost {run.lost}, "
        f"rtt p50 {_ms(run.rtt_ms, 50)} ms p99 {_ms(run.rtt_ms, 99)} ms, "
        f"without a recent heartbeat {run.without_recent}; CPU cores: {shares}"
    )


# --- 2. coordination ----------------------------------------------------------------------


@dataclass(frozen=True)
class Coordination:
    latency_ms: list[float]
    put_ms: list[float]
    missed: int


async def _put_desired(http: httpx.AsyncClient, agent_id: str, revision: str) -> None:
    """Pin ``revision`` (idempotent: asked again once after a dropped connection)."""
    for attempt in range(2):
        try:
            resp = await http.put(f"/v1/agents/{agent_id}/desired", json={"revision": revision})
        except httpx.TransportError:
            if attempt:
                raise
            continue
        resp.raise_for_status()
        return


async def _coordination(
    cluster: Cluster, agents: int, samples: int, agent_key: str, deployer_key: str
) -> Coordination:
    waiting: dict[tuple[str, str], asyncio.Future[Applied]] = {}

    def applied(event: Applied) -> None:
        future = waiting.get((event.agent_id, event.revision))
        if future is not None and not future.done():
            future.set_result(event)

    fleet = Fleet(
        CortexClient(cluster.gateway.url, agent_key, timeout_s=CLIENT_TIMEOUT_S),
        agents,
        prefix="co-",
        heartbeat_s=COORDINATION_HEARTBEAT_S,
        on_apply=applied,
        registered=True,
    )
    await _register_in_bulk(cluster, fleet.ids, {"fleet": "co"})
    latency: list[float] = []
    put_ms: list[float] = []
    missed = 0
    todo = list(range(samples))

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal missed
        while todo:
            i = todo.pop()
            agent_id, revision = fleet.ids[i % agents], f"rev-{i + 1}"
            future = waiting[(agent_id, revision)] = asyncio.get_running_loop().create_future()
            sent = time.monotonic()
            await _put_desired(http, agent_id, revision)
            put_ms.append((time.monotonic() - sent) * 1000)
            try:
                event = await asyncio.wait_for(future, 35)
            except TimeoutError:
                missed += 1
                continue
            latency.append((event.monotonic - sent) * 1000)

    try:
        await fleet.start(stagger_s=5.0)
        await asyncio.sleep(5.0)  # every agent's first long-poll is waiting
        _log(f"{agents:,} agents long-polling; {samples:,} revision changes")
        async with httpx.AsyncClient(
            base_url=cluster.gateway.url,
            headers={"Authorization": f"Bearer {deployer_key}"},
            timeout=CLIENT_TIMEOUT_S,
            limits=pool_limits(COORDINATION_WORKERS),
        ) as http:
            await asyncio.gather(*(worker(http) for _ in range(COORDINATION_WORKERS)))
    finally:
        await fleet.stop()
    return Coordination(latency, put_ms, missed)


# --- 3. deployments (against the deployments API contract of issue 13) ---------------------

DEPLOY_BATCH = 50
GATE_OBSERVATION_S = 1.0


async def _deployments_available(gateway_url: str, key: str) -> bool:
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        resp = await http.get("/v1/deployments")
    return resp.status_code != 404


def _plan(revision: str, fleet_label: str) -> dict[str, Any]:
    return {
        "service": "bench-agent",
        "environment": "production",
        "targets": {"selector": {"fleet": fleet_label}},
        "change": {"revision": revision, "config_patch": {"revision": revision}},
        "strategy": {
            "max_batch_size": DEPLOY_BATCH,
            "pause_between_batches_s": 0,
            "health_gate": {
                "min_healthy_ratio": 0.9,
                "observation_s": GATE_OBSERVATION_S,
                "min_sample": 1,
                # agents report the new revision at once, but a loaded fleet may be late
                "missing_data": "hold",
                "hold_limit_s": 120,
            },
        },
        "on_failure": "rollback",
    }


def _at(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Deployments:
    wall_s: float
    planned_wait_s: float
    rollback_s: list[float]
    duplicate_effects: int


async def _deploy(client: CortexClient, revision: str) -> dict[str, Any]:
    created = await asyncio.to_thread(
        client.create_deployment,
        _plan(revision, "dep"),
        idempotency_key=f"bench-{revision}",
    )
    return await asyncio.to_thread(
        client.wait_for_deployment, created["id"], 600.0, version=int(created["version"])
    )


def _duplicates(applied: list[Applied]) -> int:
    seen: set[tuple[str, str, str]] = set()
    duplicates = 0
    for event in applied:
        key = (event.agent_id, event.revision, event.previous)
        duplicates += key in seen
        seen.add(key)
    return duplicates


async def _deployments(
    cluster: Cluster, agents: int, runs: int, agent_key: str, deployer_key: str
) -> Deployments:
    """One deployment of ``agents`` in batches of 50 (wall time, pauses and gate windows
    apart), then ``runs`` deployments whose first batch turns unhealthy: failure detected (the
    run's ``rolling_back`` transition) → every touched agent back on its snapshot revision (the
    last ``apply`` of it)."""
    fleet = Fleet(
        CortexClient(cluster.gateway.url, agent_key, timeout_s=CLIENT_TIMEOUT_S),
        agents,
        prefix="dep-",
        labels=lambda _: {"fleet": "dep"},
        heartbeat_s=HEARTBEAT_S,
        registered=True,
    )
    await _register_in_bulk(cluster, fleet.ids, {"fleet": "dep"})
    deployer = CortexClient(cluster.gateway.url, deployer_key, timeout_s=60)
    rollback_s: list[float] = []
    try:
        await fleet.start(stagger_s=1.0)
        started = time.monotonic()
        done = await _deploy(deployer, "rev-1")
        wall = time.monotonic() - started
        if done["status"] != "succeeded":
            raise RuntimeError(f"the deployment ended {done['status']}: {done['timeline']}")
        batches = len(done["batches"])
        for k in range(runs):
            revision, previous = f"rev-bad-{k}", "rev-1"
            fleet.sick_revisions = {revision}
            mark = len(fleet.applied)
            record = await _deploy(deployer, revision)
            touched = {a.agent_id for a in fleet.applied[mark:] if a.revision == revision}
            reverted = [
                a.wall
                for a in fleet.applied[mark:]
                if a.revision == previous and a.agent_id in touched
            ]
            detected = [t["at"] for t in record["timeline"] if t["to"] == "rolling_back"]
            if record["status"] != "rolled_back" or not detected or not reverted:
                raise RuntimeError(f"run {k} ended {record['status']} without a rollback")
            rollback_s.append(max(reverted) - _at(detected[0]))
    finally:
        await fleet.stop()
    return Deployments(
        wall_s=wall,
        planned_wait_s=batches * GATE_OBSERVATION_S,
        rollback_s=rollback_s,
        duplicate_effects=_duplicates(fleet.applied),
    )


def _deployment_metrics(d: Deployments) -> Metrics:
    return {
        "deploy_wall_s_1000": metric(round(d.wall_s, 2), "s", better="lower"),
        "deploy_planned_wait_s_1000": metric(round(d.planned_wait_s, 2), "s", better="lower"),
        "deploy_overhead_s_1000": metric(
            round(d.wall_s - d.planned_wait_s, 2), "s", better="lower"
        ),
        "rollback_p95_s_1000": metric(
            round(interpolated_percentile(d.rollback_s, 95), 3), "s", better="lower", target=5
        ),
        "rollback_p50_s_1000": metric(
            round(interpolated_percentile(d.rollback_s, 50), 3), "s", better="lower"
        ),
        "duplicate_effects": metric(
            float(d.duplicate_effects), "effects", better="lower", target=0
        ),
    }


# --- the suite ----------------------------------------------------------------------------


def _heartbeat_metrics(run: HeartbeatRun, direct: HeartbeatRun) -> Metrics:
    peak = run.cpu_s
    gateway_per_k = run.cpu_s.get("gateway", 0.0) / max(run.acknowledged, 1) * 1000
    orchestrator_per_k = run.cpu_s.get("orchestrator", 0.0) / max(run.acknowledged, 1) * 1000
    direct_per_k = direct.cpu_s.get("orchestrator", 0.0) / max(direct.acknowledged, 1) * 1000
    share = {name: round(seconds / run.window_s, 3) for name, seconds in peak.items()}
    return {
        "heartbeats_lost": metric(
            float(run.lost + direct.lost), "heartbeats", better="lower", target=0
        ),
        "heartbeats_per_s": metric(
            round(run.per_s, 1), "heartbeats/s", better="higher", target=run.agents / HEARTBEAT_S
        ),
        "heartbeats_sent": metric(float(run.sent), "heartbeats", better="higher"),
        "heartbeat_rtt_p50_ms": metric(_ms(run.rtt_ms, 50), "ms", better="lower"),
        "heartbeat_rtt_p99_ms": metric(_ms(run.rtt_ms, 99), "ms", better="lower"),
        "agents_without_recent_heartbeat": metric(
            float(run.without_recent), "agents", better="lower", target=0
        ),
        "orchestrator_cpu_share": metric(share.get("orchestrator", 0.0), "cores", better="lower"),
        "gateway_cpu_share": metric(share.get("gateway", 0.0), "cores", better="lower"),
        "postgres_cpu_share": metric(share.get("postgres", 0.0), "cores", better="lower"),
        "fleet_cpu_share": metric(share.get("python", 0.0), "cores", better="lower"),
        "orchestrator_cpu_ms_per_1000_heartbeats": metric(
            round(orchestrator_per_k * 1000, 1), "ms", better="lower"
        ),
        "gateway_cpu_ms_per_1000_heartbeats": metric(
            round(gateway_per_k * 1000, 1), "ms", better="lower"
        ),
        "direct_orchestrator_cpu_ms_per_1000_heartbeats": metric(
            round(direct_per_k * 1000, 1), "ms", better="lower"
        ),
        "heartbeat_gateway_cpu_ratio": metric(
            ratio(gateway_per_k + orchestrator_per_k, direct_per_k), "ratio", better="lower"
        ),
        "direct_heartbeat_rtt_p99_ms": metric(_ms(direct.rtt_ms, 99), "ms", better="lower"),
    }


def _coordination_metrics(c: Coordination) -> Metrics:
    p99, put_p99 = _ms(c.latency_ms, 99), _ms(c.put_ms, 99)
    return {
        "coordination_p99_ms_1000": metric(p99, "ms", better="lower", target=100),
        "coordination_p50_ms_1000": metric(_ms(c.latency_ms, 50), "ms", better="lower"),
        "coordination_put_p99_ms": metric(put_p99, "ms", better="lower"),
        "coordination_vs_put_p99_ratio": metric(ratio(p99, put_p99), "ratio", better="lower"),
        "coordination_missed": metric(float(c.missed), "changes", better="lower", target=0),
    }


async def _main(sizes: Sizes) -> Metrics:
    with embedded_servers(durable=True) as servers:
        async with _cluster(servers) as cluster:
            await _publish_policy(cluster.gateway.url)
            agent_key = await _key(cluster.gateway.url, "agent")
            deployer_key = await _key(cluster.gateway.url, "deployer")
            idle_mb = _proc_status_mb(cluster.orchestrator.pid, "VmRSS")
            run = await _heartbeats(
                cluster, sizes.heartbeat_agents, sizes.heartbeat_window_s, key=agent_key
            )
            _log_heartbeats("through the gateway", run)
            peak_mb = _proc_status_mb(cluster.orchestrator.pid, "VmHWM")
            _log(f"orchestrator RSS idle {idle_mb:.0f} MB, peak {peak_mb:.0f} MB")
            direct = await _heartbeats(
                cluster, sizes.heartbeat_agents, sizes.direct_window_s, key=None
            )
            _log_heartbeats("straight to the orchestrator (baseline)", direct)
            coordination = await _coordination(
                cluster,
                sizes.coordination_agents,
                sizes.coordination_samples,
                agent_key,
                deployer_key,
            )
            _log(
                f"coordination p50 {_ms(coordination.latency_ms, 50)} ms, "
                f"p99 {_ms(coordination.latency_ms, 99)} ms (PUT alone p99 "
                f"{_ms(coordination.put_ms, 99)} ms), missed {coordination.missed}"
            )
            deployments: Metrics = {}
            if await _deployments_available(cluster.gateway.url, deployer_key):
                measured = await _deployments(
                    cluster, sizes.deploy_agents, sizes.rollback_runs, agent_key, deployer_key
                )
                deployments = _deployment_metrics(measured)
            else:
                _log(
                    "missing: " + ", ".join(DEPLOYMENT_METRICS) + " — GET /v1/deployments "
                    "answers 404 (the orchestrator's deployments API is not built here)"
                )
    thousands = sizes.heartbeat_agents / 1000
    return {
        "heartbeat_rss_mb_10000": metric(round(peak_mb, 1), "MB", better="lower", target=300),
        "rss_mb_per_1000_agents": metric(
            round(peak_mb / thousands, 1), "MB", better="lower", target=2048
        ),
        "orchestrator_idle_rss_mb": metric(round(idle_mb, 1), "MB", better="lower"),
        "heartbeat_agents": metric(float(sizes.heartbeat_agents), "agents", better="higher"),
        **_heartbeat_metrics(run, direct),
        **_coordination_metrics(coordination),
        **deployments,
    }


def run(*, quick: bool) -> Metrics:
    return run_async(lambda: _main(QUICK if quick else FULL))
