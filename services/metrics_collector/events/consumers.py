from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import subject_filter
from cortex_kit.messaging.consumer import ConsumerSpec
from cortex_kit.settings import ProcessSettings
from metrics_collector.commit_hooks import after_commit
from metrics_collector.events.decoding import ReceivedFacts, received_facts
from metrics_collector.events.service import Received, record_deliveries

FactsCommitted = Callable[[set[str]], None]
"""Told the agencies whose facts a batch changed, once that batch has committed."""


def delivery_consumer(
    settings: ProcessSettings,
    on_committed: FactsCommitted | None = None,
    *,
    name: str = "metrics-collector-delivery",
    stream: str = "CORTEX_DELIVERY",
    filter_subjects: Sequence[str] = (subject_filter("delivery"),),
    concurrency: int = 1,
    max_batch_bytes: int | None = None,
) -> ConsumerSpec[ReceivedFacts]:
    """Facts merge in any order (advisory locks serialise writers of one fact), so batches may
    be handled ``concurrency`` at a time."""

    async def handle(session: AsyncSession, messages: Sequence[Received]) -> None:
        merged = await record_deliveries(session, messages)
        if on_committed is not None and merged:
            agencies = {f.agency for f in merged}
            after_commit(session, lambda: on_committed(agencies))

    return ConsumerSpec(
        name=name,
        stream=stream,
        filter_subjects=list(filter_subjects),
        decode=received_facts,
        handler=handle,
        max_deliver=settings.consumer_max_deliver,
        ack_wait_s=settings.consumer_ack_wait_s,
        batch_size=settings.consumer_batch_size,
        concurrency=concurrency,
        max_batch_bytes=max_batch_bytes,
    )


def rollout_consumer(
    settings: ProcessSettings, on_committed: FactsCommitted | None = None, *, concurrency: int = 1
) -> ConsumerSpec[ReceivedFacts]:
    """Finished rollouts and rollbacks of the rollout orchestrator count as deployments."""
    return delivery_consumer(
        settings,
        on_committed,
        name="metrics-collector-rollouts",
        stream="CORTEX_DEPLOY",
        filter_subjects=(
            subject_filter("deploy", "finished"),
            subject_filter("deploy", "rolled_back"),
        ),
        concurrency=concurrency,
    )
