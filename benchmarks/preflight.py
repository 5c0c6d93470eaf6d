"""gateway (preflight part): ``POST /v1/preflight`` through the real gateway and services.

``python -m`` processes of the policy engine, rollout orchestrator, approval workflow, metrics
collector and gateway on the suite's private NATS and PostgreSQL; the agency ``bench`` has a
deployments policy and a fleet of agents. One client sends preflights one after another (a CI
pipeline's pattern) and reports ``preflight_p50_ms`` / ``preflight_p95_ms`` (SLO ≤ 50 ms), and,
same run, the orchestrator's ``POST /v1/deployments/preview`` called straight (signed, as the
gateway calls it) and the gateway's ``/healthz``: ``preflight_vs_preview_ratio`` is what the
gateway's fan-out and aggregation add over the preview alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping

import httpx
import yaml

from benchmarks.common import Metrics, Servers, metric, ratio
from benchmarks.policy_http import (
    HOST,
    INTERNAL_SECRET,
    headers,
    policy_engine,
    publish,
    served_process,
)
from cortex_kit.embedded import free_port

AGENCY = "bench"
ADMIN_KEY = "cvc_0123456789ab_" + "C" * 43
SLO_P95_MS = 50.0
POLICY = yaml.safe_dump(
    {
        "apiVersion": "cortex.codevald.io/v1",
        "kind": "AIPolicy",
        "metadata": {"name": AGENCY, "agency": AGENCY, "layer": "agency"},
        "spec": {"deployments": {"max_agents_per_batch": 50, "max_config_changes": 20}},
    }
)
PREVIEW = "/v1/deployments/preview"


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def plan(agents: int) -> dict[str, object]:
    return {
        "service": "support-bot",
        "environment": "production",
        "targets": {"selector": {"team": "payments"}},
        "change": {"revision": "rev-2", "prompt_revision": "p-7"},
        "strategy": {"max_batch_size": max(1, agents // 4)},
    }


@contextlib.contextmanager
def _service(
    servers: Servers, module: str, database: str, extra: Mapping[str, str]
) -> Iterator[str]:
    servers.postgres.ensure_database(database)
    prefix = f"CORTEX_{module.upper()}_"
    port = free_port()
    env = {
        **os.environ,
        f"{prefix}PORT": str(port),
        f"{prefix}HOST": HOST,
        f"{prefix}DATABASE_URL": servers.postgres.url(database),
        f"{prefix}NATS_URL": servers.nats.url,
        f"{prefix}LOG_LEVEL": "WARNING",
        f"{prefix}INTERNAL_SECRET": INTERNAL_SECRET,
        **{prefix + k: v for k, v in extra.items()},
    }
    with served_process(module, port, env, servers.root / f"{database}.log"):
        yield f"http://{HOST}:{port}"


@contextlib.contextmanager
def _cluster(servers: Servers) -> Iterator[dict[str, str]]:
    from cryptography.fernet import Fernet

    with contextlib.ExitStack() as stack:
        engine = stack.enter_context(policy_engine(servers, database="preflight_policy"))
        urls = {"policy_engine": engine.url}
        urls["approval_workflow"] = stack.enter_context(
            _service(servers, "approval_workflow", "preflight_approvals", {})
        )
        urls["metrics_collector"] = stack.enter_context(
            _service(servers, "metrics_collector", "preflight_metrics", {})
        )
        urls["rollout_orchestrator"] = stack.enter_context(
            _service(
                servers,
                "rollout_orchestrator",
                "preflight_rollouts",
                {"POLICY_ENGINE_URL": engine.url},
            )
        )
        gateway_extra = {f"{name.upper()}_URL": url for name, url in urls.items()} | {
            "SECRETS_KEY": Fernet.generate_key().decode(),
            "BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "RATE_LIMIT_ENABLED": "false",
        }
        urls["gateway"] = stack.enter_context(
            _service(servers, "gateway", "preflight_gateway", gateway_extra)
        )
        yield urls


def _arrange(client: httpx.Client, urls: Mapping[str, str], agents: int) -> None:
    publish(client, urls["policy_engine"], AGENCY, POLICY)
    for n in range(agents):
        answer = client.post(
            urls["rollout_orchestrator"] + "/v1/agents",
            json={
                "id": f"agent-{n:04d}",
                "labels": {"team": "payments"},
                "runtime": "py",
                "current_revision": "rev-1",
            },
            headers=headers(AGENCY, "POST", "/v1/agents"),
        )
        if answer.status_code != 201:
            raise RuntimeError(f"registering an agent: {answer.status_code} {answer.text}")


def _timed(send: Callable[[], httpx.Response], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        answer = send()
        out.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"preflight benchmark FAILED: {answer.status_code} {answer.text}")
    return out


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def run(servers: Servers, *, quick: bool) -> Metrics:
    """The preflight metrics of the gateway suite, on the suite's ``servers``."""
    agents, n = (20, 60) if quick else (100, 400)
    body = json.dumps(plan(agents)).encode()
    with _cluster(servers) as urls, httpx.Client(timeout=10.0) as client:
        _arrange(client, urls, agents)
        gateway = urls["gateway"]
        auth = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}

        def preflight() -> httpx.Response:
            return client.post(
                f"{gateway}/v1/preflight?agency={AGENCY}", content=body, headers=auth
            )

        def preview() -> httpx.Response:
            signed = headers(AGENCY, "POST", PREVIEW)
            return client.post(
                urls["rollout_orchestrator"] + PREVIEW,
                content=body,
                headers={**signed, "Content-Type": "application/json"},
            )

        def healthz() -> httpx.Response:
            return client.get(f"{gateway}/healthz")

        verdict = preflight().json()
        if verdict["verdict"] != "pass":
            raise SystemExit(f"preflight benchmark FAILED: the plan does not pass: {verdict}")
        _timed(preflight, 10)  # warm: keep-alive pools, the policy cache
        through = _timed(preflight, n)
        straight = _timed(preview, n)
        health = _timed(healthz, n)
    _log(
        f"preflight p50 {statistics.median(through):.2f} ms p95 {_p95(through):.2f} ms; "
        f"preview p95 {_p95(straight):.2f} ms; healthz p95 {_p95(health):.2f} ms ({n} each)"
    )
    return {
        "preflight_p50_ms": metric(statistics.median(through), "ms", better="lower"),
        "preflight_p95_ms": metric(_p95(through), "ms", better="lower", target=SLO_P95_MS),
        "preview_p95_ms": metric(_p95(straight), "ms", better="lower"),
        "preflight_healthz_p95_ms": metric(_p95(health), "ms", better="lower"),
        "preflight_vs_preview_ratio": metric(
            ratio(_p95(through), _p95(straight)), "ratio", better="lower"
        ),
    }


if __name__ == "__main__":  # python -m benchmarks.preflight [--quick]: this part alone
    from benchmarks.common import embedded_servers

    with embedded_servers(durable=True) as running:
        print(json.dumps(run(running, quick="--quick" in sys.argv), indent=2))
