"""``python -m rollout_orchestrator`` (a real subprocess) is killed with SIGKILL while a batch
is under observation; a new process on the same database resumes the run: it succeeds, every
transition and event exists once, and the batches after the kill are driven by the new one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cortex_kit.embedded import free_port
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER
from tests.integration.conftest import serve_app
from tests.integration.rollout_orchestrator.deployments_helpers import (
    outbox_payloads,
    plan,
    simulate_fleet,
    timeline_rows,
)
from tests.integration.rollout_orchestrator.test_deployments_replicas import (
    assert_each_once,
    assert_events_once,
)

pytestmark = pytest.mark.slow
AGENTS = 6


def fake_policy_engine() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/deployments/evaluate")
    async def evaluate() -> dict[str, Any]:
        return {
            "verdict": "pass",
            "risk_score": 0.1,
            "reasons": [],
            "limits": None,
            "policy_version": "org:1",
            "evaluated_at": datetime.now(UTC).isoformat(),
        }

    return app


@contextlib.contextmanager
def orchestrator(
    name: str, database_url: str, nats_url: str, policy_url: str, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    settings = {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "INTERNAL_SECRET": TEST_INTERNAL_SECRET,
        "REPLICA_ID": name,
        "POLICY_ENGINE_URL": policy_url,
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
        "RECONCILE_INTERVAL_S": "0.1",
        "OUTBOX_POLL_INTERVAL_S": "0.2",
    }
    env = {**os.environ, **{f"CORTEX_ROLLOUT_ORCHESTRATOR_{k}": v for k, v in settings.items()}}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rollout_orchestrator"], env=env, stdout=out, stderr=out
        )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, tail(log)
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(tail(log))


def api(url: str) -> httpx.AsyncClient:
    headers = {AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "key-ci"}
    return httpx.AsyncClient(base_url=url, headers=headers, auth=signed(), timeout=30)


async def until(url: str, run_id: str, check: Any, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    async with api(url) as http:
        while time.monotonic() < deadline:
            got: dict[str, Any] = (await http.get(f"/v1/deployments/{run_id}")).json()
            if check(got):
                return got
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{run_id}: {got}")


async def test_a_killed_orchestrator_resumes_its_run_on_restart(
    migrated_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    policy = await serve_app(lambda _port: fake_policy_engine())
    ids = [f"agent-{n:02d}" for n in range(AGENTS)]
    stop = asyncio.Event()
    try:
        with orchestrator(
            "doomed", migrated_database_url, nats_url, policy.url, tmp_path / "a.log"
        ) as (proc, url):
            await wait_ready(proc, url, tmp_path / "a.log")
            async with api(url) as http:
                for agent_id in ids:
                    body = {"id": agent_id, "runtime": "py", "current_revision": "rev-1"}
                    assert (await http.post("/v1/agents", json=body)).status_code == 201
                body = plan(ids, batch=2, gate={"observation_s": 2})
                created = await http.post("/v1/deployments", json=body)
                assert created.status_code == 202, created.text
                run_id = created.json()["id"]
            fleet = asyncio.create_task(simulate_fleet([url], ids, stop))
            await until(url, run_id, lambda r: r["batches"][1]["status"] == "observing")
            proc.kill()  # SIGKILL mid-batch
            proc.wait(timeout=10)
            stop.set()
            await fleet
        stop = asyncio.Event()
        with orchestrator(
            "survivor", migrated_database_url, nats_url, policy.url, tmp_path / "b.log"
        ) as (proc, url):
            await wait_ready(proc, url, tmp_path / "b.log")
            fleet = asyncio.create_task(simulate_fleet([url], ids, stop))
            done = await until(url, run_id, lambda r: r["status"] == "succeeded")
            stop.set()
            await fleet
    finally:
        stop.set()
        await policy.stop()
    assert [b["status"] for b in done["batches"]] == ["passed"] * 3
    rows = await timeline_rows(migrated_database_url)
    assert_each_once(rows)
    drivers = {(r.event, r.batch_index): r.driver for r in rows}
    assert drivers[("batch_started", 1)] == "doomed"
    assert drivers[("batch_started", 2)] == "survivor"
    assert drivers[("succeeded", None)] == "survivor"
    assert_events_once(await outbox_payloads(migrated_database_url))
