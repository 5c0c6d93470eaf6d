"""Hostile policy bodies from one agency leave every other agency's authorize answering."""

from __future__ import annotations

import asyncio
import contextlib
import time
from statistics import median

import httpx
import pytest

from cortex_kit.testing.internal import signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER

from .conftest import Cluster
from .test_auth import create_key
from .test_policy_api import JSON, YAML, action, publish_baseline

LAUGHS = "lol: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9)
)
# (method, path, body, headers, status, code): the tester's 20 KB bodies, and each limit besides.
HOSTILE = [
    ("POST", "/v1/policies/validate", "[" * 10_000 + "]" * 10_000, YAML, 422, "policy_too_deep"),
    ("PUT", "/v1/agencies/globex/policy", "- " * 10_000 + "x", YAML, 422, "policy_too_deep"),
    ("POST", "/v1/policies/validate", "[" * 10_000 + "]" * 10_000, JSON, 422, "policy_too_deep"),
    ("PUT", "/v1/agencies/globex/policy", LAUGHS, YAML, 422, "policy_too_many_nodes"),
]  # fmt: skip
# A generic request-size limit in front of the engine may refuse it first, with its own code.
TOO_LARGE = ("POST", "/v1/policies/validate", "a: " + "x" * 300_000, YAML, 413, None)
ROUNDS, SAMPLES = 5, 200
# The attack comes in bursts of all the bodies at once (the tester sent three at once), a
# burst a second. The cluster here is one process, one event loop: a flood of any requests,
# hostile or not, would share that loop with the victim; this test is about a body *stalling*
# the engine (each held the loop for seconds), not about throughput.
BURST_EVERY_S = 1.0


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[int(len(ordered) * 0.99) - 1]


async def authorize_loop(client: httpx.AsyncClient, samples: int) -> list[float]:
    latencies = []
    for _ in range(samples):
        started = time.perf_counter()
        resp = await client.post("/v1/authorize", json={"agent_id": "a1", "action": action()})
        latencies.append(time.perf_counter() - started)
        assert resp.status_code == 200, resp.text
    return latencies


async def send(
    client: httpx.AsyncClient, hostile: tuple[str, str, str, dict[str, str], int, str | None]
) -> None:
    method, path, body, headers, status, code = hostile
    resp = await client.request(method, path, content=body, headers=headers)
    assert resp.status_code == status, resp.text[:300]
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["remediation"]
    if code is not None:
        assert problem["code"] == code
        assert problem["limit"]["setting"].startswith("CORTEX_POLICY_ENGINE_POLICY_")


async def attack(client: httpx.AsyncClient, stop: asyncio.Event, answers: list[str]) -> None:
    while not stop.is_set():
        await asyncio.gather(*(send(client, hostile) for hostile in HOSTILE))
        answers += [path for _, path, *_ in HOSTILE]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), BURST_EVERY_S)


async def measured_under_attack(
    victim: httpx.AsyncClient, attacker: httpx.AsyncClient, answers: list[str]
) -> list[float]:
    stop = asyncio.Event()
    attacker_task = asyncio.create_task(attack(attacker, stop, answers))
    try:
        return await authorize_loop(victim, SAMPLES)
    finally:
        stop.set()
        await attacker_task


@pytest.mark.slow
async def test_hostile_bodies_do_not_stall_another_agencys_authorize(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    admin_of_globex = await create_key(cluster, "globex", "policy-admin")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    baseline: list[float] = []
    attacked: list[float] = []
    answers: list[str] = []
    async with cluster.client(key=agent) as victim, cluster.client(key=admin_of_globex) as bad:
        await send(bad, TOO_LARGE)  # refused by its size (untimed: the body is 300 KB)
        await authorize_loop(victim, 50)  # warm caches and connections
        # Baseline and attack alternate, so a neighbour's load on the (shared) machine weighs on
        # both alike; every round measures its baseline first.
        for _ in range(ROUNDS):
            baseline += await authorize_loop(victim, SAMPLES)
            attacked += await measured_under_attack(victim, bad, answers)
    ratio = p99(attacked) / p99(baseline)
    print(
        f"authorize p50/p99 {median(baseline) * 1e3:.2f}/{p99(baseline) * 1e3:.2f} ms, under "
        f"{len(answers)} hostile bodies {median(attacked) * 1e3:.2f}/{p99(attacked) * 1e3:.2f} ms"
        f" (p99 ratio {ratio:.2f})"
    )
    assert len(answers) >= ROUNDS * len(HOSTILE)
    # A stalled engine shows as seconds against ~1 ms (ratio > 1,000); parsing a refused body
    # in a thread still takes some CPU from the loop, and a 2-core machine shared with other
    # jobs swings p99 by 2x between rounds (1.2-2.2 seen here): 4 is far from both.
    assert ratio <= 4.0


async def test_simulate_bounds_its_candidate_and_its_body(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await publish_baseline(admin)
        deep_candidate = await admin.post(
            "/v1/agencies/acme/policy/simulate", json={"policy": "[" * 10_000 + "]" * 10_000}
        )
        assert deep_candidate.status_code == 422, deep_candidate.text[:300]
        assert deep_candidate.json()["code"] == "policy_too_deep"
        deep_body = await admin.post(
            "/v1/agencies/acme/policy/simulate",
            content='{"policy": "x", "last": ' + "[" * 100_000 + "]" * 100_000 + "}",
            headers=JSON,
        )
        assert 400 <= deep_body.status_code < 500, deep_body.text[:300]
        assert deep_body.headers["content-type"] == "application/problem+json"


async def test_simulate_applies_the_configured_limits(database_url: str, nats_url: str) -> None:
    from policy_engine.app import create_app
    from policy_engine.settings import Settings

    from .conftest import Cluster as Holder
    from .conftest import _common, serve_app

    holder = Holder(database_url, nats_url)
    engine = await serve_app(
        lambda port: create_app(Settings(**_common(holder, port), policy_max_depth=8))
    )
    nested = "[" * 12 + "]" * 12  # 12 deep: within the default (32), past this engine's 8
    try:
        async with httpx.AsyncClient(
            base_url=engine.url,
            auth=signed(),
            headers={AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "test"},
        ) as client:
            resp = await client.post(
                "/v1/agencies/acme/policy/simulate", json={"policy": nested, "last": 10}
            )
    finally:
        await engine.stop()
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "policy_too_deep"
    assert resp.json()["limit"]["value"] == 8
