"""The agent registry over HTTP: register, heartbeat, list (selector, stale), the desired
revision long-poll, agency isolation, and bad input as problem+json."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from cortex_kit.testing.clock import Clock
from rollout_orchestrator.state import state_of
from tests.integration.conftest import Served
from tests.integration.rollout_orchestrator.conftest import Start, agent_body, client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["remediation"]
    return body


async def test_register_is_idempotent_and_a_re_register_updates(start: Start) -> None:
    served = await start()
    async with client(served) as http:
        first = await http.post("/v1/agents", json=agent_body())
        assert first.status_code == 201, first.text
        created = first.json()
        assert created["desired_revision"] == "rev-1"
        assert (created["status"], created["healthy"], created["stale"]) == ("unknown", None, False)

        again = await http.post("/v1/agents", json=agent_body())
        assert again.status_code == 200
        assert again.json()["registered_at"] == created["registered_at"]

        await http.put("/v1/agents/agent-1/desired", json={"revision": "rev-2"})
        moved = await http.post(
            "/v1/agents",
            json=agent_body(labels={"team": "search"}, runtime="node-22", current_revision="rev-9"),
        )
        assert moved.status_code == 200
        got = (await http.get("/v1/agents/agent-1")).json()
        assert got["labels"] == {"team": "search"}
        assert (got["runtime"], got["current_revision"]) == ("node-22", "rev-9")
        assert got["desired_revision"] == "rev-2"  # re-registering never moves the desired one
        listed = (await http.get("/v1/agents")).json()["items"]
        assert [a["id"] for a in listed] == ["agent-1"]


async def test_heartbeat_records_the_applied_revision_and_health(start: Start) -> None:
    served = await start()
    async with client(served) as http:
        await http.post("/v1/agents", json=agent_body())
        beat = await http.post(
            "/v1/agents/agent-1/heartbeat",
            json={
                "applied_revision": "rev-1",
                "healthy": False,
                "health": {"error_rate": 0.25, "queue": 3, "ready": False, "note": "slow"},
            },
        )
        assert beat.status_code == 200, beat.text
        got = (await http.get("/v1/agents/agent-1")).json()
        assert (got["applied_revision"], got["healthy"], got["status"]) == (
            "rev-1",
            False,
            "unhealthy",
        )
        assert got["health"] == {"error_rate": 0.25, "queue": 3, "ready": False, "note": "slow"}
        assert got["last_heartbeat_at"] is not None

        await http.post(
            "/v1/agents/agent-1/heartbeat", json={"applied_revision": "rev-1", "healthy": True}
        )
        again = (await http.get("/v1/agents/agent-1")).json()
        assert (again["status"], again["health"]) == ("healthy", {})

        missing = await http.post(
            "/v1/agents/ghost/heartbeat", json={"applied_revision": "rev-1", "healthy": True}
        )
        assert_problem(missing, 404, "agent_not_found")


async def test_agents_without_a_heartbeat_for_stale_after_are_stale(start: Start) -> None:
    clock = Clock()
    served = await start(clock=clock, stale_after_s=60)
    async with client(served) as http:
        for agent_id in ("beating", "silent", "never"):
            await http.post("/v1/agents", json=agent_body(agent_id))
        for agent_id in ("beating", "silent"):
            await http.post(
                f"/v1/agents/{agent_id}/heartbeat",
                json={"applied_revision": "rev-1", "healthy": True},
            )
        clock.advance(45)
        await http.post(
            "/v1/agents/beating/heartbeat", json={"applied_revision": "rev-1", "healthy": True}
        )
        clock.advance(30)  # silent: 75 s since its heartbeat; never: 75 s since it registered
        items = (await http.get("/v1/agents")).json()["items"]
        by_id = {a["id"]: (a["stale"], a["status"]) for a in items}
        assert by_id == {
            "beating": (False, "healthy"),
            "never": (True, "stale"),
            "silent": (True, "stale"),
        }


async def test_the_selector_filters_by_label_equality(start: Start) -> None:
    served = await start()
    labels = {
        "pay-canary": {"team": "payments", "tier": "canary"},
        "pay-main": {"team": "payments", "tier": "main"},
        "search-canary": {"team": "search", "tier": "canary"},
    }
    async with client(served) as http:
        for agent_id, agent_labels in labels.items():
            await http.post("/v1/agents", json=agent_body(agent_id, labels=agent_labels))

        async def ids(selector: str) -> list[str]:
            response = await http.get("/v1/agents", params={"selector": selector})
            assert response.status_code == 200, response.text
            return [a["id"] for a in response.json()["items"]]

        assert await ids("team=payments") == ["pay-canary", "pay-main"]
        assert await ids("team=payments,tier=canary") == ["pay-canary"]
        assert await ids("tier=canary") == ["pay-canary", "search-canary"]
        assert await ids("team=ads") == []
        assert await ids("") == ["pay-canary", "pay-main", "search-canary"]

        for bad in ("team!=payments", "team", "team=a,team=b", "te am=x"):
            response = await http.get("/v1/agents", params={"selector": bad})
            assert_problem(response, 400, "invalid_selector")


async def test_the_list_pages_by_id(start: Start) -> None:
    served = await start()
    async with client(served) as http:
        for n in range(5):
            await http.post("/v1/agents", json=agent_body(f"agent-{n}"))
        first = (await http.get("/v1/agents", params={"limit": 2})).json()
        assert [a["id"] for a in first["items"]] == ["agent-0", "agent-1"]
        seen = [a["id"] for a in first["items"]]
        after = first["next_after"]
        while after is not None:
            page = (await http.get("/v1/agents", params={"limit": 2, "after": after})).json()
            seen += [a["id"] for a in page["items"]]
            after = page["next_after"]
        assert seen == [f"agent-{n}" for n in range(5)]


async def test_desired_answers_at_once_when_it_differs_from_known(start: Start) -> None:
    served = await start()
    async with client(served) as http:
        await http.post("/v1/agents", json=agent_body())
        plain = (await http.get("/v1/agents/agent-1/desired")).json()
        assert plain == {
            "agent_id": "agent-1",
            "desired_revision": "rev-1",
            "known": None,
            "changed": False,
        }
        # The agent knows rev-0: rev-1 differs, answered at once (well before the 30 s wait).
        response = await asyncio.wait_for(
            http.get("/v1/agents/agent-1/desired", params={"known": "rev-0", "wait": 30}), 20
        )
        assert response.json()["changed"] is True
        assert response.json()["desired_revision"] == "rev-1"


async def _until_waiting(served: Served, count: int) -> None:
    waiters = state_of.in_app(served.app).waiters
    for _ in range(2000):
        if waiters.count() >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the long-poll never started waiting")


async def test_desired_long_poll_is_woken_by_a_change(start: Start) -> None:
    served = await start()
    async with client(served) as http, client(served) as other:
        await http.post("/v1/agents", json=agent_body())
        await http.post("/v1/agents", json=agent_body("agent-2"))
        poll = asyncio.create_task(
            http.get("/v1/agents/agent-1/desired", params={"known": "rev-1", "wait": 30})
        )
        await _until_waiting(served, 1)
        # A change to another agent does not answer it.
        await other.put("/v1/agents/agent-2/desired", json={"revision": "rev-2"})
        await asyncio.sleep(0.2)
        assert not poll.done()
        changed = await other.put("/v1/agents/agent-1/desired", json={"revision": "rev-2"})
        assert changed.status_code == 200, changed.text
        # Woken after the commit: answered long before its 30 s wait would end.
        response = await asyncio.wait_for(poll, 20)
        assert response.json() == {
            "agent_id": "agent-1",
            "desired_revision": "rev-2",
            "known": "rev-1",
            "changed": True,
        }
    assert state_of.in_app(served.app).waiters.count() == 0


async def test_waiting_long_polls_hold_no_database_connection(start: Start) -> None:
    served = await start(database_pool_size=1)  # at most two connections (one overflow)
    async with client(served) as http:
        ids = [f"agent-{n}" for n in range(6)]
        for agent_id in ids:
            await http.post("/v1/agents", json=agent_body(agent_id))
        polls = [
            asyncio.create_task(
                http.get(f"/v1/agents/{agent_id}/desired", params={"known": "rev-1", "wait": 30})
            )
            for agent_id in ids
        ]
        await _until_waiting(served, len(ids))  # six waiting on a pool of two connections
        # Were the waits holding connections, these writes would wait for the polls to end
        # (30 s) and the polls would not be answered within 20 s.
        for agent_id in ids:
            pinned = await http.put(f"/v1/agents/{agent_id}/desired", json={"revision": "rev-2"})
            assert pinned.status_code == 200
        answers = await asyncio.wait_for(asyncio.gather(*polls), 20)
        assert [a.json()["desired_revision"] for a in answers] == ["rev-2"] * len(ids)


async def test_a_long_poll_that_times_out_answers_unchanged(start: Start) -> None:
    served = await start()
    async with client(served) as http:
        await http.post("/v1/agents", json=agent_body())
        response = await http.get(
            "/v1/agents/agent-1/desired", params={"known": "rev-1", "wait": 0.2}
        )
        assert response.json()["changed"] is False


async def test_another_agencys_agent_is_invisible(start: Start) -> None:
    served = await start()
    async with client(served, "acme") as acme, client(served, "globex") as globex:
        await acme.post("/v1/agents", json=agent_body())
        assert_problem(await globex.get("/v1/agents/agent-1"), 404, "agent_not_found")
        assert_problem(await globex.get("/v1/agents/agent-1/desired"), 404, "agent_not_found")
        beat = await globex.post(
            "/v1/agents/agent-1/heartbeat", json={"applied_revision": "x", "healthy": True}
        )
        assert_problem(beat, 404, "agent_not_found")
        pin = await globex.put("/v1/agents/agent-1/desired", json={"revision": "evil"})
        assert_problem(pin, 404, "agent_not_found")
        assert (await globex.get("/v1/agents")).json()["items"] == []
        # The same id in another agency is another agent.
        assert (await globex.post("/v1/agents", json=agent_body(labels={}))).status_code == 201
        got = (await acme.get("/v1/agents/agent-1")).json()
        assert (got["labels"], got["desired_revision"]) == (
            {"team": "payments", "tier": "canary"},
            "rev-1",
        )


@pytest.mark.parametrize(
    "body",
    [
        agent_body(id=""),
        agent_body(id="bad\u0001id"),
        agent_body(labels={"team": 3}),
        agent_body(labels={"bad key!": "x"}),
        agent_body(current_revision="has space"),
        {k: v for k, v in agent_body().items() if k != "runtime"},
        {**agent_body(), "agency": "globex"},
    ],
)
async def test_bad_registrations_are_422_problems(start: Start, body: dict[str, Any]) -> None:
    served = await start()
    async with client(served) as http:
        assert_problem(await http.post("/v1/agents", json=body), 422, "invalid_request")


async def test_bad_heartbeats_and_queries_are_4xx_problems(start: Start) -> None:
    served = await start()
    async with client(served) as http:
        await http.post("/v1/agents", json=agent_body())
        for body in (
            {"healthy": True},
            {"applied_revision": "rev-1", "healthy": "very"},
            {"applied_revision": "rev-1", "healthy": True, "health": {"nested": {"a": 1}}},
        ):
            response = await http.post("/v1/agents/agent-1/heartbeat", json=body)
            assert_problem(response, 422, "invalid_request")
        wait = await http.get("/v1/agents/agent-1/desired", params={"wait": 31})
        assert_problem(wait, 422, "invalid_request")
        limit = await http.get("/v1/agents", params={"limit": 0})
        assert_problem(limit, 422, "invalid_request")


async def test_calls_without_an_agency_are_refused(start: Start) -> None:
    served = await start()
    async with client(served) as http:
        del http.headers["X-Cortex-Agency"]
        response = await http.get("/v1/agents")
        assert response.status_code == 400
        assert response.json()["code"] == "agency_required"
