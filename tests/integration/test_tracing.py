"""Trace context crosses HTTP (gateway → service) and NATS (outbox → consumer)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cortex_kit.observability import set_span_recording

from .conftest import Cluster
from .test_events_flow import CHANGE, wait_for


@pytest.fixture
def spans(cluster: Cluster) -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    set_span_recording(True)
    yield exporter
    set_span_recording(False)
    processor.shutdown()


def named(spans: tuple[ReadableSpan, ...], prefix: str, kind: SpanKind) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix) and s.kind == kind]


async def test_one_trace_from_the_gateway_to_the_consumer(
    cluster: Cluster, spans: InMemorySpanExporter
) -> None:
    async with cluster.client() as client:
        resp = await client.post(
            "/v1/events",
            json={"agency": "acme", "events": [CHANGE]},
            headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        )
        assert resp.status_code == 202
        await wait_for(client, "/v1/events/change/c-1", agency="acme")
        await asyncio.sleep(0.2)
    finished = spans.get_finished_spans()
    trace_id = 0x0AF7651916CD43DD8448EB211C80319C

    [post] = named(finished, "POST /v1/events", SpanKind.SERVER)
    assert post.context.trace_id == trace_id  # the caller's context was continued

    consumers = named(finished, "consume metrics-collector-delivery", SpanKind.CONSUMER)
    linked = {link.context.trace_id for s in consumers for link in s.links}
    assert trace_id in linked  # the event carried the trace through the outbox and NATS

    reads = named(finished, "GET /v1/events/{kind}/{event_id}", SpanKind.SERVER)
    clients = named(finished, "GET metrics_collector", SpanKind.CLIENT)
    assert clients
    # the service's server span is a child of the gateway's client span
    assert any(
        r.parent is not None and r.parent.span_id == c.context.span_id
        for r in reads
        for c in clients
    )
