"""DORA metrics through the gateway, on real NATS and PostgreSQL: events in, metrics out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cortex_kit.testing.internal import signed
from cortex_kit.web import AGENCY_HEADER

from .conftest import Cluster, _common, serve_app

CHECKOUT = "checkout"
WEEK = {"service": CHECKOUT, "environment": "production", "from": "2025-03-03", "to": "2025-03-10"}


def _at(day: int, hour: float) -> str:
    moment = datetime(2025, 3, 3, tzinfo=UTC) + timedelta(days=day, hours=hour)
    return moment.isoformat().replace("+00:00", "Z")


def change(sha: str, day: int, hour: float) -> dict[str, Any]:
    return {
        "type": "change",
        "id": f"c-{sha}",
        "commit_sha": sha * 7,
        "service": CHECKOUT,
        "committed_at": _at(day, hour),
    }


def deployment(
    dep_id: str, day: int, start: float, end: float, status: str = "succeeded", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "deployment",
        "id": dep_id,
        "service": CHECKOUT,
        "environment": "production",
        "status": status,
        "started_at": _at(day, start),
        "finished_at": _at(day, end),
        **extra,
    }


def incident(inc_id: str, day: int, opened: float, resolved: float) -> dict[str, Any]:
    return {
        "type": "incident",
        "id": inc_id,
        "service": CHECKOUT,
        "environment": "production",
        "opened_at": _at(day, opened),
        "resolved_at": _at(day, resolved),
    }


# docs/metrics.md "Worked example" (Mon = day 0)
WORKED_EXAMPLE = [
    change("a", 0, 8),
    change("b", 0, 9),
    deployment("D1", 0, 10, 10.25),
    change("c", 1, 13),
    deployment("D2", 1, 14, 14.25),
    incident("I1", 1, 15, 17),
    change("f", 1, 15.5),
    deployment("D3", 1, 16, 16.5, labels=["hotfix"], fixes_incident="I1"),
    change("d", 2, 10),
    deployment("D4", 2, 11, 11 + 1 / 3, "failed"),
    change("e", 3, 9),
    deployment("D5", 3, 10, 10.5),
]


async def send(
    client: httpx.AsyncClient, events: list[dict[str, Any]], agency: str = "acme"
) -> None:
    resp = await client.post("/v1/events", json={"agency": agency, "events": events})
    assert resp.status_code == 202, resp.text


async def eventually(
    probe: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout_s: float = 15.0
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if check(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def dora(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    resp = await client.get("/v1/metrics/dora", params={"agency": "acme", **params})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _count(report: dict[str, Any]) -> int:
    return int(report["deployment_frequency"]["count"])


async def test_worked_example_of_the_docs_through_the_api(cluster: Cluster) -> None:
    async with cluster.client() as client:
        await send(client, WORKED_EXAMPLE)
        r = await eventually(lambda: dora(client, **WEEK), lambda r: r["lead_time"]["n"] == 6)
    assert r["agency"] == "acme"
    assert r["deployment_frequency"] == {
        "count": 4,
        "per_day": 0.571429,
        "deploy_days": 3,
        "deploy_days_per_week": 3.0,
        "frequency_class": "daily",
        "band": "high",
    }
    lead = r["lead_time"]
    assert (lead["p50_s"], lead["p90_s"], lead["mean_s"], lead["band"]) == (
        4500.0,
        88200.0,
        19050.0,
        "elite",
    )
    cfr = r["change_failure_rate"]
    assert (cfr["value"], cfr["ci95"], cfr["n"], cfr["failed"], cfr["band"]) == (
        0.4,
        [0.117621, 0.769276],
        5,
        2,
        "low",
    )
    recovery = r["recovery_time"]
    assert (recovery["p50_s"], recovery["p90_s"], recovery["band"]) == (5400.0, 83400.0, "high")
    assert (r["rework_rate"]["value"], r["rework_rate"]["ci95"]) == (0.2, [0.036224, 0.624465])
    assert r["quick_check"]["overall"] == 7.6


async def test_a_late_status_update_changes_the_result_and_a_stale_one_does_not(
    cluster: Cluster,
) -> None:
    async with cluster.client() as client:
        await send(client, [deployment("D1", 0, 10, 10.5)])
        r = await eventually(lambda: dora(client, **WEEK), lambda r: _count(r) == 1)
        assert r["change_failure_rate"]["value"] == 0.0
        # the deployment is rolled back later: the same id, a later status
        await send(client, [deployment("D1", 0, 10, 11, "rolled_back")])
        r = await eventually(
            lambda: dora(client, **WEEK), lambda r: r["change_failure_rate"]["value"] == 1.0
        )
        assert r["change_failure_rate"]["value"] == 1.0
        # a stale "in progress" report arriving last changes nothing
        stale = deployment("D1", 0, 10, 10.5, "in_progress")
        del stale["finished_at"]
        await send(client, [stale])
        stored = await eventually(
            lambda: client.get("/v1/events/deployment/D1", params={"agency": "acme"}),
            lambda resp: resp.status_code == 200 and resp.json()["versions"] == 3,
        )
        assert stored.json()["facts"]["status"] == "rolled_back"
        assert stored.json()["facts"]["finished_at"] == _at(0, 11)
        r = await dora(client, **WEEK)
        assert (_count(r), r["change_failure_rate"]["value"]) == (1, 1.0)


async def test_out_of_order_events_give_the_in_order_result(cluster: Cluster) -> None:
    async with cluster.client() as client:
        await send(client, WORKED_EXAMPLE, agency="ordered")
        for event in reversed(WORKED_EXAMPLE):  # one request each, newest first
            await send(client, [event], agency="shuffled")

        async def both() -> tuple[dict[str, Any], dict[str, Any]]:
            ordered = await dora(client, agency="ordered", **WEEK)
            shuffled = await dora(client, agency="shuffled", **WEEK)
            return ordered, shuffled

        ordered, shuffled = await eventually(
            both, lambda pair: all(p["lead_time"]["n"] == 6 for p in pair)
        )
    assert {**shuffled, "agency": "ordered"} == ordered


async def test_settings_change_the_incident_linking(cluster: Cluster) -> None:
    events = [
        deployment("D1", 0, 10, 10.25),
        # opened 2 days after D1: blamed on it within latest_before's 7 days, not by a 24 h window
        incident("I1", 2, 10, 12),
    ]
    async with cluster.client() as client:
        await send(client, events)
        r = await eventually(
            lambda: dora(client, **WEEK), lambda r: r["change_failure_rate"]["incidents"] == 1
        )
        assert r["change_failure_rate"]["failed"] == 1
        assert r["linking"]["strategy"] == "latest_before"
        settings = {"linking": {"strategy": "window", "window_s": 86400}}
        resp = await client.put("/v1/metrics/settings", params={"agency": "acme"}, json=settings)
        assert resp.status_code == 200, resp.text
        assert resp.json()["linking"]["strategy"] == "window"
        assert resp.json()["is_default"] is False
        r = await eventually(
            lambda: dora(client, **WEEK), lambda r: r["linking"]["strategy"] == "window"
        )
        cfr = r["change_failure_rate"]
        assert (cfr["failed"], cfr["unlinked_incidents"], cfr["value"]) == (0, 1, 0.0)
        got = await client.get("/v1/metrics/settings", params={"agency": "acme"})
        assert got.json()["linking"] == {
            "strategy": "window",
            "max_age_s": 604800.0,
            "window_s": 86400.0,
            "explicit_first": True,
        }


async def test_an_incident_naming_a_deployment_finished_after_it_opened_is_refused_or_counted(
    cluster: Cluster,
) -> None:
    named_later = {**incident("I1", 0, 11, 13), "caused_by_deployment": "D1"}
    async with cluster.client() as client:
        # Incident first: D1 is unknown yet, so it is accepted; once D1 arrives (finished at
        # 12:00, after the opening) the link is left out and counted as an anomaly.
        await send(client, [named_later])
        await send(client, [deployment("D1", 0, 11.5, 12)])
        r = await eventually(
            lambda: dora(client, **WEEK),
            lambda r: r["change_failure_rate"]["anomalies"]["incident_before_deployment"] == 1,
        )
        cfr = r["change_failure_rate"]
        assert (cfr["failed"], cfr["n"], cfr["unlinked_incidents"]) == (0, 1, 1)
        # Deployment known: the collector has stored it, so the gateway refuses the incident.
        again = {**named_later, "id": "I2"}
        resp = await client.post("/v1/events", json={"agency": "acme", "events": [again]})
        assert resp.status_code == 422, resp.text
        body = resp.json()
        assert body["code"] == "incident_before_deployment"
        assert body["detail"].startswith("events[0].caused_by_deployment: ")
        assert (body["field"], body["deployment_id"]) == ("events[0].caused_by_deployment", "D1")
        assert "caused_by_deployment" in body["remediation"]
        # The same batch says so too: refused without asking the collector.
        batch = [
            deployment("D2", 1, 9, 10),
            {**incident("I3", 1, 9.5, 11), "caused_by_deployment": "D2"},
        ]
        resp = await client.post("/v1/events", json={"agency": "acme", "events": batch})
        assert resp.status_code == 422, resp.text
        assert resp.json()["field"] == "events[1].caused_by_deployment"
        # A cause that finished before the opening is accepted and linked.
        await send(client, [{**incident("I4", 0, 12.5, 13), "caused_by_deployment": "D1"}])
        r = await eventually(
            lambda: dora(client, **WEEK), lambda r: r["change_failure_rate"]["failed"] == 1
        )
        assert r["change_failure_rate"]["anomalies"] == {"incident_before_deployment": 1}


async def test_real_names_go_through_the_gateway_into_dora(cluster: Cluster) -> None:
    def named(dep_id: str, service: str, environment: str) -> dict[str, Any]:
        return {**deployment(dep_id, 0, 10, 10.25), "service": service, "environment": environment}

    week = {"from": "2025-03-03", "to": "2025-03-10"}
    async with cluster.client() as client:
        await send(client, [named("N1", ".github", "生产"), named("N2", "支付", "生产")])
        await send(client, [named("N3", "Pay Ments", "staging")])
        for service, environment in (
            (".GitHub", "生产"),
            ("支付", "生产"),
            ("pay ments", "staging"),
        ):
            r = await eventually(
                lambda s=service, e=environment: dora(client, service=s, environment=e, **week),
                lambda r: _count(r) == 1,
            )
            assert _count(r) == 1, (service, environment)
        bad = named("N4", "pay\x07ments", "x" * 201)
        resp = await client.post("/v1/events", json={"agency": "acme", "events": [bad]})
        assert resp.status_code == 422, resp.text
        messages = {e["loc"][-1]: e["message"] for e in resp.json()["errors"]}
        assert "remove or replace the control character U+0007" in messages["service"]
        assert "shorten it to 200 characters" in messages["environment"]


async def _key(client: httpx.AsyncClient, agency: str, role: str) -> str:
    resp = await client.post("/v1/keys", json={"agency": agency, "role": role})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["key"])


async def test_only_admins_and_policy_admins_change_settings(cluster: Cluster) -> None:
    body = {"linking": {"strategy": "explicit"}}
    async with cluster.client() as admin:
        viewer = await _key(admin, "acme", "viewer")
        policy_admin = await _key(admin, "acme", "policy-admin")
    async with cluster.client(viewer) as client:
        assert (await client.get("/v1/metrics/settings")).status_code == 200
        denied = await client.put("/v1/metrics/settings", json=body)
        assert denied.status_code == 403
        assert denied.json()["code"] == "role_forbidden"
    async with cluster.client(policy_admin) as client:
        resp = await client.put("/v1/metrics/settings", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["agency"] == "acme"


async def test_an_agency_key_reads_only_its_own_agency(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await send(admin, [deployment("D1", 0, 10, 10.5)], agency="acme")
        other = await _key(admin, "other", "viewer")
    async with cluster.client(other) as client:
        forbidden = await client.get("/v1/metrics/dora", params={"agency": "acme", **WEEK})
        assert forbidden.status_code == 403
        assert forbidden.json()["code"] == "agency_forbidden"
        own = await client.get("/v1/metrics/dora", params=WEEK)
        assert own.status_code == 200
        assert own.json()["agency"] == "other"
        assert _count(own.json()) == 0


async def test_bad_windows_are_problem_details_with_a_remedy(cluster: Cluster) -> None:
    cases = {
        "invalid_window": {"from": "2025-03-10", "to": "2025-03-03"},
        "window_too_large": {"from": "2020-01-01", "to": "2025-01-01"},
        "unknown_bucket": {"bucket": "fortnight"},
        "invalid_time": {"from": "2025-03-03T10:00:00"},
    }
    async with cluster.client() as client:
        for code, params in cases.items():
            resp = await client.get("/v1/metrics/dora", params={"agency": "acme", **params})
            assert resp.status_code == 422, (code, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            problem = resp.json()
            assert problem["code"] == code
            assert problem["remediation"]


async def test_trend_buckets_partition_the_window(cluster: Cluster) -> None:
    async with cluster.client() as client:
        await send(client, WORKED_EXAMPLE)
        r = await eventually(
            lambda: dora(client, bucket="day", **WEEK), lambda r: r["lead_time"]["n"] == 6
        )
        schema = await client.get("/v1/metrics/dora/schema")
    assert r["bucket"] == "day"
    assert len(r["buckets"]) == 7
    assert [b["deployment_frequency"]["count"] for b in r["buckets"]] == [1, 2, 0, 1, 0, 0, 0]
    assert schema.status_code == 200
    assert "lead_time" in schema.json()["properties"]


def _recent(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()


def _sample(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{"):
            series, _, value = line.rpartition(" ")
            got = ",".join(sorted(series[len(name) + 1 : -1].split(",")))
            if got == wanted:
                return float(value)
    return None


async def test_prometheus_exports_the_metrics_of_each_slice(cluster: Cluster) -> None:
    events = [
        {**deployment("P1", 0, 0, 0), "started_at": _recent(30), "finished_at": _recent(29.9)},
        {
            **deployment("P2", 0, 0, 0, "failed"),
            "started_at": _recent(5),
            "finished_at": _recent(4.9),
        },
    ]
    collector = cluster.processes["metrics_collector"].url
    labels = {"agency": "acme", "service": CHECKOUT, "environment": "production"}
    async with cluster.client() as client, httpx.AsyncClient(base_url=collector) as raw:
        await send(client, events)

        async def scrape() -> str:
            return (await raw.get("/metrics")).text

        text = await eventually(
            scrape, lambda t: _sample(t, "cortex_dora_change_failure_rate", **labels) == 0.5
        )
    assert _sample(text, "cortex_dora_deployments_total", **labels) == 1.0
    assert _sample(text, "cortex_dora_change_failure_rate", **labels) == 0.5
    assert _sample(text, "cortex_dora_deployments_per_day", **labels) == round(1 / 30, 6)
    assert _sample(text, "cortex_dora_band", metric="change_failure_rate", **labels) == 1.0
    assert "cortex_dora_window_seconds 2.592e+06" in text  # the default 30 days
    label_names = {
        pair.split("=", 1)[0]
        for line in text.splitlines()
        if line.startswith("cortex_dora_")
        and "{" in line
        and not line.startswith("cortex_dora_slice_rebuild")  # a latency histogram
        for pair in line[line.index("{") + 1 : line.index("}")].split(",")
    }
    assert label_names == {"agency", "service", "environment", "metric"}  # bounded labels only


async def test_every_replica_converges_whichever_consumed_the_events(cluster: Cluster) -> None:
    from metrics_collector.app import create_app
    from metrics_collector.settings import Settings

    second = await serve_app(lambda port: create_app(Settings(**_common(cluster, port))))
    urls = [cluster.processes["metrics_collector"].url, second.url]
    try:
        async with cluster.client() as client:
            await send(client, WORKED_EXAMPLE)

        async def counts() -> list[int]:
            found = []
            async with httpx.AsyncClient(headers={AGENCY_HEADER: "acme"}, auth=signed()) as raw:
                for url in urls:
                    resp = await raw.get(f"{url}/v1/metrics/dora", params=WEEK)
                    found.append(resp.json()["lead_time"]["n"])
            return found

        assert await eventually(counts, lambda c: c == [6, 6]) == [6, 6]
        async with cluster.client() as client:
            await send(client, [deployment("D6", 4, 10, 10.5, "failed")])
            settings = {"linking": {"strategy": "explicit"}}
            resp = await client.put(
                "/v1/metrics/settings", params={"agency": "acme"}, json=settings
            )
            assert resp.status_code == 200

        async def failed() -> list[tuple[int, str]]:
            found = []
            async with httpx.AsyncClient(headers={AGENCY_HEADER: "acme"}, auth=signed()) as raw:
                for url in urls:
                    r = (await raw.get(f"{url}/v1/metrics/dora", params=WEEK)).json()
                    found.append((r["change_failure_rate"]["failed"], r["linking"]["strategy"]))
            return found

        # explicit linking: I1 names no cause, so only the two failed rollouts are failures
        assert (
            await eventually(failed, lambda f: f == [(2, "explicit")] * 2) == [(2, "explicit")] * 2
        )
    finally:
        await second.stop()


def _cortex(args: list[str], capsys: Any) -> tuple[int, str, str]:
    from cortex_sdk.cli import main

    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_cortex_dora_prints_bands_json_and_exit_codes(cluster: Cluster, capsys: Any) -> None:
    async with cluster.client() as client:
        await send(client, WORKED_EXAMPLE)
        await eventually(lambda: dora(client, **WEEK), lambda r: r["lead_time"]["n"] == 6)
    base = ["dora", "--url", cluster.gateway_url, "--api-key", cluster.admin_key, "--agency"]
    week = ["acme", "--service", CHECKOUT, "--from", "2025-03-03", "--to", "2025-03-10"]
    # the CLI is synchronous: run it off the loop that serves the cluster
    code, table, _ = await asyncio.to_thread(_cortex, [*base, *week], capsys)
    assert code == 0
    assert "change failure rate" in table
    assert "low" in table.split("change failure rate", 1)[1].splitlines()[0]
    code, raw, _ = await asyncio.to_thread(_cortex, [*base, *week, "--json"], capsys)
    assert (code, json.loads(raw)["deployment_frequency"]["count"]) == (0, 4)
    code, _, err = await asyncio.to_thread(
        _cortex, [*base, *week, "--fail-under", "medium"], capsys
    )
    assert code == 2
    assert "change_failure_rate" in err
    code, _, err = await asyncio.to_thread(
        _cortex, [*base, "acme", "--from", "2025-03-10", "--to", "2025-03-03"], capsys
    )
    assert code == 1
    assert "invalid_window" in err


async def test_a_burst_of_facts_puts_the_cache_in_burst_mode_and_queries_still_rebuild(
    cluster: Cluster,
) -> None:
    from cortex_kit.db import Database
    from metrics_collector.dora.cache import DoraCache

    db = Database(cluster.database_url)
    cache = DoraCache(db, poll_interval_s=60.0, burst_facts=len(WORKED_EXAMPLE))
    try:
        async with cluster.client() as client:
            await send(client, [change("0", 1, 1)])
        entry = await cache.agency("acme")

        async def indexed() -> int:
            await cache.poll()
            return len(entry.index)

        # The first change arrives alone (before or after the load): no burst.
        assert await eventually(indexed, lambda n: n == 1) == 1
        assert not cache.in_burst
        async with cluster.client() as client:
            await send(client, WORKED_EXAMPLE)

        async def read() -> int:
            return await cache.poll()

        # Nothing rebuilt by the poll itself: the slices wait, counted as pending.
        assert await eventually(read, lambda n: n > 0) >= len(WORKED_EXAMPLE)
        assert cache.in_burst
        assert entry.dirty
        # A query does not wait for the burst: it rebuilds the slices it reads.
        await cache.agency("acme")
        assert not entry.dirty
        assert entry.snapshots
    finally:
        await cache.stop()
        await db.dispose()


async def test_a_replica_is_not_ready_while_it_warms_up_and_is_once_done_or_failed(
    cluster: Cluster,
) -> None:
    from cortex_kit.db import Database
    from metrics_collector.dora.cache import DoraCache

    db = Database(cluster.database_url)
    cache = DoraCache(db)
    release = asyncio.Event()

    async def slow_warm() -> None:
        await release.wait()

    async def failing_warm() -> None:
        raise RuntimeError("database away")

    try:
        assert cache.warming_up() is None
        cache.warm = slow_warm  # type: ignore[method-assign]
        cache.spawn_warm()
        assert cache.warming_up() == "loading the delivery history: 0 facts so far"
        release.set()
        assert (
            await eventually(lambda: asyncio.sleep(0, cache.warming_up()), lambda r: r is None)
            is None
        )

        cache.warm = failing_warm  # type: ignore[method-assign]
        cache.spawn_warm()
        assert cache.warming_up() is not None
        # A failed warm-up does not keep the replica out: queries load on demand.
        assert (
            await eventually(lambda: asyncio.sleep(0, cache.warming_up()), lambda r: r is None)
            is None
        )
    finally:
        await cache.stop()
        await db.dispose()


async def test_readyz_names_the_warm_up_while_it_runs(cluster: Cluster) -> None:
    from metrics_collector.state import state_of

    served = cluster.processes["metrics_collector"]
    cache = state_of.in_app(served.app).dora.cache
    release = asyncio.Event()

    async def slow_warm() -> None:
        await release.wait()

    original = cache.warm
    cache.warm = slow_warm
    try:
        cache.spawn_warm()
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"{served.url}/readyz")
            assert resp.status_code == 503
            problem = resp.json()
            assert problem["code"] == "not_ready"
            assert problem["checks"] == {"dora_cache": "fail"}
            assert "loading the delivery history" in problem["detail"]
            release.set()
            for _ in range(100):
                resp = await client.get(f"{served.url}/readyz")
                if resp.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert resp.status_code == 200
            assert resp.json()["checks"]["dora_cache"] == "ok"
    finally:
        release.set()
        cache.warm = original
