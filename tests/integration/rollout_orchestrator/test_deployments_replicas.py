"""Two orchestrator instances on one database drive runs together: every transition is made by
exactly one of them, once, with no duplicate event; and a restart mid-batch resumes the run
with no effect repeated."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from cortex_contracts import BatchCompleted, DeploymentFinished, DeploymentStarted
from cortex_kit.testing.clock import Clock
from tests.integration.rollout_orchestrator.conftest import Start, client
from tests.integration.rollout_orchestrator.deployments_helpers import (
    FakePolicy,
    beat,
    outbox_payloads,
    plan,
    register,
    simulate_fleet,
    timeline_rows,
)
from tests.integration.rollout_orchestrator.test_deployments import (
    create,
    record,
    started,
    tick,
)

RUNS = 4
PER_RUN = 4


def assert_each_once(rows: list[Any]) -> None:
    keys = Counter((r.run_id, r.event, r.batch_index) for r in rows)
    assert [k for k, n in keys.items() if n > 1] == []


def assert_events_once(payloads: list[Any]) -> None:
    started = Counter(p.deployment_id for p in payloads if isinstance(p, DeploymentStarted))
    batches = Counter(
        (p.deployment_id, p.batch_index) for p in payloads if isinstance(p, BatchCompleted)
    )
    finished = Counter(p.deployment_id for p in payloads if isinstance(p, DeploymentFinished))
    assert set(started.values()) == set(finished.values()) == set(batches.values()) == {1}


async def test_two_replicas_drive_each_transition_exactly_once(
    start: Start, migrated_database_url: str
) -> None:
    replicas = [
        await start(policy=FakePolicy().client(), replica_id=name, reconcile_interval_s=0.05)
        for name in ("replica-a", "replica-b")
    ]
    stop = asyncio.Event()
    async with client(replicas[0]) as http:
        ids = await register(http, RUNS * PER_RUN)
        fleet = asyncio.create_task(simulate_fleet([r.url for r in replicas], ids, stop))
        run_ids = []
        for n in range(RUNS):
            mine = ids[n * PER_RUN : (n + 1) * PER_RUN]
            body = plan(mine, batch=1, gate={"observation_s": 0}, seed=f"s{n}")
            async with client(replicas[n % 2]) as other:
                run_ids.append((await create(other, body))["id"])
        try:
            for _ in range(600):
                states = [(await record(http, r))["status"] for r in run_ids]
                if all(s == "succeeded" for s in states):
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await fleet
    assert states == ["succeeded"] * RUNS
    rows = await timeline_rows(migrated_database_url)
    assert len(rows) == RUNS * (1 + 2 * PER_RUN + 1)  # started, 4 x (batch started, passed), end
    assert {r.driver for r in rows} <= {"replica-a", "replica-b"}
    assert_each_once(rows)
    assert_events_once(await outbox_payloads(migrated_database_url))


async def test_a_restart_mid_batch_resumes_without_repeating_anything(
    start: Start, migrated_database_url: str
) -> None:
    clock = Clock()
    first = await started(start, clock)
    async with client(first) as http:
        ids = await register(http, 4)
        run_id = (await create(http, plan(ids, batch=2)))["id"]
        await tick(first)
        observed = (await record(http, run_id))["batches"][0]["agent_ids"]
        await beat(http, observed, "rev-2")
    await first.stop()

    second = await start(
        clock=clock, policy=FakePolicy().client(), reconcile_loop=False, replica_id="after"
    )
    clock.advance(31)
    async with client(second) as http:
        await tick(second)  # batch 0 passes on the readings stored before the restart
        await tick(second)  # nothing twice
        got = await record(http, run_id)
        assert [b["status"] for b in got["batches"]] == ["passed", "observing"]
        await beat(http, got["batches"][1]["agent_ids"], "rev-2")
        clock.advance(31)
        await tick(second)
        done = await record(http, run_id)
    assert done["status"] == "succeeded"
    rows = await timeline_rows(migrated_database_url)
    assert_each_once(rows)
    assert [r.driver for r in rows if r.event == "batch_passed"] == ["after", "after"]
    assert_events_once(await outbox_payloads(migrated_database_url))


async def test_a_batch_applied_by_one_replica_answers_long_polls_on_another(
    start: Start,
) -> None:
    driving = await started(start, Clock())
    polled = await start(policy=FakePolicy().client(), reconcile_loop=False)
    async with client(driving) as http, client(polled) as other:
        ids = await register(http, 1)
        await create(http, plan(ids, batch=1))
        waiting = asyncio.create_task(
            other.get(f"/v1/agents/{ids[0]}/desired", params={"known": "rev-1", "wait": 30})
        )
        await asyncio.sleep(0.3)  # the long-poll is waiting on the other replica
        await tick(driving)
        answer = await asyncio.wait_for(waiting, 15)  # well before its 30 s wait ends
    assert answer.json()["changed"] is True
    assert answer.json()["desired_revision"] == "rev-2"
