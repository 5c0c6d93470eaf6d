"""Platform rollouts count automatically: deploy.* events become deployment facts, and the
revision of a rollout without commits a change (the orchestrator's own events, real NATS and
PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import (
    DeploymentFinished,
    RollbackTrigger,
    RolledBack,
    RolloutStatus,
    encode,
    pack,
    subject_for,
)
from cortex_kit.messaging.outbox import PendingEvent
from tests.unit.metrics_collector.rollout_runs import envelope, finished, rolled_back, run

from .conftest import Cluster
from .test_events_flow import wait_for


def ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def publish(nats_url: str, *payloads: object) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for payload in payloads:
        envelope = pack(payload, agency="acme", source="rollout-orchestrator")  # type: ignore[arg-type]
        await js.publish(
            subject_for(payload, "acme"),  # type: ignore[arg-type]
            encode(envelope),
            headers={"Nats-Msg-Id": envelope.id},
        )
    await nc.close()


async def test_a_rolled_back_rollout_counts_as_a_failure_with_its_recovery(
    cluster: Cluster,
) -> None:
    start = datetime.now(UTC) - timedelta(hours=3)
    finished = DeploymentFinished(
        deployment_id="run-1",
        agency="acme",
        service="support-bot",
        environment="production",
        status=RolloutStatus.ROLLOUT_STATUS_SUCCEEDED,
        started_at=ts(start),
        finished_at=ts(start + timedelta(minutes=10)),
        total_agents=100,
        batch_size=10,
    )
    rolled_back = RolledBack(
        deployment_id="run-1",
        agency="acme",
        service="support-bot",
        environment="production",
        trigger=RollbackTrigger.ROLLBACK_TRIGGER_MANUAL,
        actor="sre",
        reason="bad prompt",
        started_at=ts(start + timedelta(hours=1)),
        finished_at=ts(start + timedelta(hours=1, minutes=5)),
    )
    await publish(cluster.nats_url, finished, rolled_back)
    async with cluster.client() as client:
        run = await wait_for(client, "/v1/events/deployment/run-1", agency="acme")
        assert run.status_code == 200, run.text
        assert run.json()["facts"]["source"] == "rollout"
        rollback = await wait_for(client, "/v1/events/deployment/run-1:rollback", agency="acme")
        assert rollback.json()["facts"]["rollback_of"] == "run-1"
        for _ in range(50):
            report = (
                await client.get(
                    "/v1/metrics/dora", params={"agency": "acme", "service": "support-bot"}
                )
            ).json()
            if report["change_failure_rate"]["failed"] == 1:
                break
            await asyncio.sleep(0.1)
    assert report["change_failure_rate"]["failed"] == 1
    assert report["recovery_time"]["n"] == 1


async def publish_events(nats_url: str, *events: PendingEvent) -> None:
    """The orchestrator's own events as its outbox relay publishes them."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for event in events:
        sent = envelope(event)
        await js.publish(event.subject, encode(sent), headers={"Nats-Msg-Id": sent.id})
    await nc.close()


async def dora_until(
    client: httpx.AsyncClient, service: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for _ in range(100):
        got = await client.get("/v1/metrics/dora", params={"agency": "acme", "service": service})
        assert got.status_code == 200, got.text
        report: dict[str, Any] = got.json()
        if done(report):
            return report
        await asyncio.sleep(0.1)
    return report


def hours_ago() -> Callable[[float], datetime]:
    """Times before one "now" (read once, whole seconds: the spans are exact)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return lambda hours: now - timedelta(hours=hours)


async def test_a_revision_only_rollout_has_a_lead_time_from_its_creation_to_production(
    cluster: Cluster,
) -> None:
    # created 5 h ago, started 4 h ago (after an approval), every agent on it 3 h ago
    ago = hours_ago()
    row = run("run-7", ago(5), ago(4), service="faq-bot")
    await publish_events(cluster.nats_url, finished(row, ago(3)))
    async with cluster.client() as client:
        change = await wait_for(client, "/v1/events/change/revision:faq-bot@rev-2", agency="acme")
        assert change.status_code == 200, change.text
        assert change.json()["facts"]["commit_sha"] == "revision:rev-2"
        report = await dora_until(client, "faq-bot", lambda r: r["lead_time"]["n"] == 1)
    assert report["deployment_frequency"]["count"] == 1
    assert report["lead_time"]["n"] == 1
    assert report["lead_time"]["p50_s"] == 2 * 3600.0
    assert report["change_failure_rate"]["failed"] == 0


async def test_a_rolled_back_rollout_fails_recovers_and_its_retry_delivers_the_revision(
    cluster: Cluster,
) -> None:
    ago = hours_ago()
    first = run("run-8", ago(6), ago(6), service="triage-bot")
    back, rollback = rolled_back(first, detected=ago(5.5), reverted=ago(5.49))
    retry = run("run-9", ago(4), ago(4), service="triage-bot")
    events = [finished(back, ago(5.49)), rollback, finished(retry, ago(3))]
    await publish_events(cluster.nats_url, *events)
    async with cluster.client() as client:
        report = await dora_until(
            client,
            "triage-bot",
            lambda r: r["deployment_frequency"]["count"] == 3 and r["lead_time"]["n"] == 1,
        )
    assert report["deployment_frequency"]["count"] == 3  # run-8, its rollback, run-9
    assert (report["change_failure_rate"]["failed"], report["change_failure_rate"]["n"]) == (1, 3)
    assert report["recovery_time"]["n"] == 1
    assert report["recovery_time"]["p50_s"] == 36.0  # detected -> every agent reverted
    assert report["rework_rate"]["unplanned"] == 1
    assert report["lead_time"]["p50_s"] == 3 * 3600.0  # created with run-8 -> run-9 done
