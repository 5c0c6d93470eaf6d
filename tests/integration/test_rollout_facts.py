"""Platform rollouts count automatically: deploy.* events become deployment facts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

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
