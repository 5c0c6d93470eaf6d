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
    return {a: (await http.get(f"/v1/agents/{a}")).json()["desired_revision"] for a in ids}


async def started(start: Start, clock: Clock, policy: FakePolicy | None = None) -> Served:
    return await start(clock=clock, policy=(policy or FakePolicy()).client(), reconcile_loop=False)


async def create(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await http.post("/v1/deployments", json=body, headers={**ACTOR, **headers})
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_run_succeeds_batch_by_batch(start: Start, migrated_database_url: str) -> None:
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
    assert (final["timeline"][0]["from"], final["timeline"][0]["to"]) == (None, "running")
    assert final["timeline"][-1]["from"] == "running"
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
    assert kinds == [
        DeploymentStarted,
        BatchCompleted,
        BatchCompleted,
        BatchCompleted,
        DeploymentFinished,
    ]
    finished = next(p for p in payloads if isinstance(p, DeploymentFinished))
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


async def test_on_failure_pause_pauses_with_the_verdict_and_resume_observes_again(
    start: Start,
) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 2)
        run_id = (await create(http, plan(ids, batch=2, on_failure="pause")))["id"]
        await tick(served)
        await beat(http, ids, "rev-2", healthy=False)
        await tick(served)
        paused = await record(http, run_id)
        assert paused["status"] == "paused"
        assert paused["timeline"][-1]["reason_code"] == "gate_failed"
        assert paused["timeline"][-1]["actor_kind"] == "gate"
        assert "unhealthy" in paused["reason"]
        assert set((await desired(http, ids)).values()) == {"rev-2"}  # nothing reverted
        resumed = await http.post(
            f"/v1/deployments/{run_id}/resume", json={"reason": "fixed"}, headers=ACTOR
        )
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["batches"][0]["status"] == "observing"
        clock.advance(1)
        await beat(http, ids, "rev-2", healthy=True)
        clock.advance(31)
        await tick(served)
        done = await record(http, run_id)
    assert done["status"] == "succeeded"
    resume = next(t for t in done["timeline"] if t["event"] == "resumed")
    assert (resume["actor_kind"], resume["actor"], resume["reason"]) == (
        "person",
        "key-ci",
        "fixed",
    )


async def missing_data_run(start: Start, missing: str) -> tuple[Served, Clock, str]:
    clock = Clock()
    served = await started(start, clock)
    gate = {"missing_data": missing, "hold_limit_s": 60, "min_sample": 2}
    async with client(served) as http:
        ids = await register(http, 2)
        run_id = (await create(http, plan(ids, batch=2, gate=gate)))["id"]
        await tick(served)
        await beat(http, ids[:1], "rev-2")  # one of the two reports: under min_sample
    return served, clock, run_id


async def test_missing_data_fail_fails_when_the_window_ends(start: Start) -> None:
    served, clock, run_id = await missing_data_run(start, "fail")
    clock.advance(31)
    await tick(served)
    async with client(served) as http:
        got = await record(http, run_id)
    assert got["status"] == "rolling_back"
    assert got["batches"][0]["verdict"]["reason"] == "insufficient_data"


async def test_missing_data_hold_waits_up_to_its_limit(start: Start) -> None:
    served, clock, run_id = await missing_data_run(start, "hold")
    clock.advance(31)
    await tick(served)
    async with client(served) as http:
        held = await record(http, run_id)
        assert (held["status"], held["batches"][0]["status"]) == ("running", "observing")
        clock.advance(60)
        await tick(served)
        got = await record(http, run_id)
    assert got["status"] == "rolling_back"
    assert got["batches"][0]["verdict"]["reason"] == "insufficient_data"


async def test_missing_data_extend_passes_when_the_data_comes_in_the_extension(
    start: Start,
) -> None:
    served, clock, run_id = await missing_data_run(start, "extend")
    clock.advance(31)
    await tick(served)
    async with client(served) as http:
        extended = await record(http, run_id)
        assert extended["batches"][0]["status"] == "observing"
        ids = extended["batches"][0]["agent_ids"]
        await beat(http, ids, "rev-2")
        clock.advance(31)
        await tick(served)
        got = await record(http, run_id)
    assert got["status"] == "succeeded"


async def test_readings_of_another_revision_do_not_count(start: Start) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 1)
        run_id = (await create(http, plan(ids, batch=1)))["id"]
        await tick(served)
        await beat(http, ids, "rev-1", healthy=False)  # still on the old revision
        clock.advance(10)
        await tick(served)
        got = await record(http, run_id)
    assert got["status"] == "running"
    assert got["batches"][0]["status"] == "observing"


async def test_manual_rollback_twice_gives_the_same_state(
    start: Start, migrated_database_url: str
) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 2)
        run_id = (await create(http, plan(ids, batch=1)))["id"]
        await tick(served)
        url = f"/v1/deployments/{run_id}/rollback"
        first = await http.post(url, json={"reason": "bad prompt"}, headers=ACTOR)
        assert first.status_code == 200, first.text
        second = await http.post(url, json={"reason": "bad prompt"}, headers=ACTOR)
        assert second.status_code == 200
        assert second.json()["version"] == first.json()["version"]
        assert second.json()["timeline"] == first.json()["timeline"]
        await tick(served)  # the touched agent never heartbeated: it runs rev-1 already
        done = await record(http, run_id)
        third = await http.post(url, json={"reason": "again"}, headers=ACTOR)
        assert third.status_code == 200
        assert third.json()["version"] == done["version"]
        resume = await http.post(
            f"/v1/deployments/{run_id}/resume", json={"reason": "x"}, headers=ACTOR
        )
    assert done["status"] == "rolled_back"
    assert done["rollback"]["trigger"] == "manual"
    assert done["rollback"]["actor"] == "key-ci"
    assert resume.status_code == 409
    assert resume.json()["code"] == "invalid_transition"
    assert resume.json()["allowed"] == []
    rolled = [p for p in await outbox_payloads(migrated_database_url) if isinstance(p, RolledBack)]
    assert len(rolled) == 1


async def test_pause_and_abort_record_the_actor(start: Start) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 2)
        run_id = (await create(http, plan(ids, batch=1)))["id"]
        await tick(served)
        headers = {PRINCIPAL_HEADER: "key-sre"}
        url = f"/v1/deployments/{run_id}"
        paused = await http.post(f"{url}/pause", json={"reason": "look"}, headers=headers)
        again = await http.post(f"{url}/pause", json={"reason": "look"}, headers=headers)
        assert again.json()["version"] == paused.json()["version"]
        await tick(served)  # a paused run is not driven
        assert (await record(http, run_id))["batches"][1]["status"] == "pending"
        aborted = await http.post(f"{url}/abort", json={"reason": "stop"}, headers=headers)
        no_reason = await http.post(f"{url}/abort", json={"reason": ""}, headers=headers)
    assert aborted.json()["status"] == "aborted"
    last = aborted.json()["timeline"][-1]
    assert (last["actor"], last["reason"], last["reason_code"]) == ("key-sre", "stop", "manual")
    assert no_reason.status_code == 422


async def test_the_watchdog_pauses_a_run_without_progress(start: Start) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 1)
        body = plan(
            ids,
            batch=1,
            gate={"observation_s": 3600},
            watchdog={"max_no_progress_s": 60, "on_stuck": "pause"},
        )
        run_id = (await create(http, body))["id"]
        await tick(served)
        clock.advance(61)
        await tick(served)
        got = await record(http, run_id)
    assert got["status"] == "paused"
    stuck = got["timeline"][-1]
    assert (stuck["event"], stuck["actor_kind"], stuck["reason_code"]) == (
        "stuck",
        "watchdog",
        "stuck",
    )


async def test_the_watchdog_rolls_back_when_the_plan_says_so(start: Start) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 1)
        body = plan(
            ids,
            batch=1,
            gate={"observation_s": 3600},
            watchdog={"max_no_progress_s": 60, "on_stuck": "rollback"},
        )
        run_id = (await create(http, body))["id"]
        await tick(served)
        clock.advance(61)
        await tick(served)
        await tick(served)
        got = await record(http, run_id)
    assert got["status"] == "rolled_back"
    assert got["rollback"]["trigger"] == "watchdog"


async def test_a_success_rolled_back_later_is_finished_once_and_rolled_back_once(
    start: Start, migrated_database_url: str
) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 1)
        run_id = (await create(http, plan(ids, batch=1)))["id"]
        await tick(served)
        await beat(http, ids, "rev-2")
        clock.advance(31)
        await tick(served)
        assert (await record(http, run_id))["status"] == "succeeded"
        rollback = await http.post(
            f"/v1/deployments/{run_id}/rollback", json={"reason": "incident"}, headers=ACTOR
        )
        assert rollback.json()["status"] == "rolling_back"
        await beat(http, ids, "rev-1")
        await tick(served)
        assert (await record(http, run_id))["status"] == "rolled_back"
    payloads = await outbox_payloads(migrated_database_url)
    finished = [p.status for p in payloads if isinstance(p, DeploymentFinished)]
    assert finished == [RolloutStatus.ROLLOUT_STATUS_SUCCEEDED]
    assert len([p for p in payloads if isinstance(p, RolledBack)]) == 1


async def test_the_list_is_newest_first_filtered_and_paged(start: Start) -> None:
    served = await started(start, Clock())
    async with client(served) as http:
        ids = await register(http, 3)
        made = [(await create(http, plan([a])))["id"] for a in ids]
        await http.post(f"/v1/deployments/{made[0]}/abort", json={"reason": "x"}, headers=ACTOR)
        page = (await http.get("/v1/deployments", params={"limit": 2})).json()
        rest = (
            await http.get("/v1/deployments", params={"limit": 2, "after": page["next_after"]})
        ).json()
        running = (await http.get("/v1/deployments", params={"status": "running"})).json()
        async with client(served, agency="globex") as globex:
            other = await globex.get(f"/v1/deployments/{made[1]}")
    assert [r["id"] for r in page["items"]] == [made[2], made[1]]
    assert [r["id"] for r in rest["items"]] == [made[0]]
    assert rest["next_after"] is None
    assert page["items"][0]["timeline"] is None
    assert page["items"][0]["batches"][0]["agent_ids"] is None
    assert {r["id"] for r in running["items"]} == {made[1], made[2]}
    assert other.status_code == 404
    assert other.json()["code"] == "deployment_not_found"


async def test_the_rollout_metrics_are_exposed(start: Start) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 1)
        await create(http, plan(ids, batch=1))
        await tick(served)
        await beat(http, ids, "rev-2", healthy=False)
        await tick(served)
        await beat(http, ids, "rev-1")
        await tick(served)
        await state_of.in_app(served.app).reconciler.refresh_gauge()
        text = (await http.get("/metrics")).text
    for name in (
        "cortex_rollout_batch_size_bucket",
        'cortex_rollout_batch_verdicts_total{outcome="fail",reason="unhealthy"}',
        "cortex_rollout_detection_to_rollback_seconds_count",
        "cortex_rollout_rollback_duration_seconds_count",
        'cortex_rollout_runs{status="rolled_back"}',
        "cortex_rollout_stuck_runs_total",
        "cortex_rollout_overrides_total",
    ):
        assert name in text, name


async def test_abort_ends_a_rollback_whose_agents_never_report(start: Start) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 1)
        run_id = (await create(http, plan(ids, batch=1)))["id"]
        await tick(served)
        await beat(http, ids, "rev-2")  # it runs rev-2, then goes silent
        url = f"/v1/deployments/{run_id}"
        await http.post(f"{url}/rollback", json={"reason": "bad"}, headers=ACTOR)
        await tick(served)
        assert (await record(http, run_id))["status"] == "rolling_back"
        aborted = await http.post(f"{url}/abort", json={"reason": "agent is gone"}, headers=ACTOR)
        told = await desired(http, ids)
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["status"] == "aborted"
    assert aborted.json()["rollback"]["agents_reverted"] == 0
    assert set(told.values()) == {"rev-1"}
