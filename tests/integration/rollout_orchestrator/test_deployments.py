"""Deployment runs end to end in one process (a test clock, ticks driven by the test): batches,
gates, rollback, pause, commands, the watchdog, approvals and policy violations."""

from __future__ import annotations

from typing import Any

import httpx

from cortex_contracts import (
    BatchCompleted,
    DeploymentFinished,
    DeploymentStarted,
    DeploymentTransitioned,
    RolledBack,
    RolloutStatus,
)
from cortex_kit.testing.clock import Clock
from cortex_kit.web import PRINCIPAL_HEADER
from rollout_orchestrator.state import state_of
from tests.integration.conftest import Served
from tests.integration.rollout_orchestrator.conftest import Start, client
from tests.integration.rollout_orchestrator.deployments_helpers import (
    FakePolicy,
    beat,
    outbox_payloads,
    plan,
    register,
)

ACTOR = {PRINCIPAL_HEADER: "key-ci"}


async def tick(served: Served) -> None:
    await state_of.in_app(served.app).reconciler.tick()


async def record(http: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/deployments/{run_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def desired(http: httpx.AsyncClient, ids: list[str]) -> dict[str, str]:
    return {
        a: (await http.get(f"/v1/agents/{a}")).json()["desired_revision"] for a in ids
    }


async def started(start: Start, clock: Clock, policy: FakePolicy | None = None) -> Served:
    return await start(clock=clock, policy=(policy or FakePolicy()).client(), reconcile_loop=False)


async def create(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await http.post("/v1/deployments", json=body, headers={**ACTOR, **headers})
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_run_succeeds_batch_by_batch(
    start: Start, migrated_database_url: str
) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 5)
        run = await create(http, plan(ids, batch=2))
        assert run["status"] == "running"
        assert [b["size"] for b in run["batches"]] == [2, 2, 1]
        assert run["snapshot"]["agents"] == 5
        run_id = run["id"]
        for index in range(3):
            await tick(served)
            got = await record(http, run_id)
            batch = got["batches"][index]
            assert batch["status"] == "observing"
            members = batch["agent_ids"]
            assert set((await desired(http, members)).values()) == {"rev-2"}
            await beat(http, members, "rev-2", healthy=True)
            clock.advance(31)
            await tick(served)
        final = await record(http, run_id)
    assert final["status"] == "succeeded", final
    assert [b["status"] for b in final["batches"]] == ["passed"] * 3
    assert final["batches"][0]["verdict"]["evidence"]["healthy"] == 2
    events = [t["event"] for t in final["timeline"]]
    assert events == ["started"] + ["batch_started", "batch_passed"] * 3 + ["succeeded"]
    assert final["progress"] == {
        "agents_total": 5,
        "agents_updated": 5,
        "batches_total": 3,
        "batches_done": 3,
        "current_batch": None,
    }
    payloads = await outbox_payloads(migrated_database_url)
    kinds = [type(p) for p in payloads if not isinstance(p, DeploymentTransitioned)]
    assert kinds == [DeploymentStarted, BatchCompleted, BatchCompleted, BatchCompleted, DeploymentFinished]
    finished = payloads[-1] if isinstance(payloads[-1], DeploymentFinished) else [
        p for p in payloads if isinstance(p, DeploymentFinished)
    ][0]
    assert finished.status == RolloutStatus.ROLLOUT_STATUS_SUCCEEDED
    assert (finished.service, finished.revision, finished.change_kind) == (
        "support-bot",
        "rev-2",
        "prompt",
    )


async def test_an_unhealthy_batch_rolls_every_touched_agent_back(
    start: Start, migrated_database_url: str
) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 6)
        run_id = (await create(http, plan(ids, batch=2)))["id"]
        await tick(served)
        first = (await record(http, run_id))["batches"][0]["agent_ids"]
        await beat(http, first, "rev-2")
        clock.advance(31)
        await tick(served)  # batch 0 passes, batch 1 starts
        second = (await record(http, run_id))["batches"][1]["agent_ids"]
        await beat(http, second, "rev-2", healthy=False)
        await tick(served)  # fails at once: no healthy agent left possible
        rolling = await record(http, run_id)
        assert rolling["status"] == "rolling_back", rolling
        assert rolling["rollback"]["trigger"] == "health_gate"
        assert rolling["batches"][1]["verdict"]["reason"] == "unhealthy"
        assert set((await desired(http, ids)).values()) == {"rev-1"}  # snapshot, all touched
        await beat(http, first + second, "rev-1")
        await tick(served)
        done = await record(http, run_id)
    assert done["status"] == "rolled_back", done
    assert done["rollback"]["agents_total"] == 4
    assert done["rollback"]["agents_reverted"] == 4
    assert done["rollback"]["finished_at"] is not None
    assert [b["status"] for b in done["batches"]] == ["reverted", "reverted", "pending"]
    payloads = await outbox_payloads(migrated_database_url)
    finished = [p for p in payloads if isinstance(p, DeploymentFinished)]
    assert [f.status for f in finished] == [RolloutStatus.ROLLOUT_STATUS_ROLLED_BACK]
    rolled = [p for p in payloads if isinstance(p, RolledBack)]
    assert len(rolled) == 1
    assert rolled[0].agents_reverted == 4
