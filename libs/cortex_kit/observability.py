"""Tracing (OpenTelemetry) and Prometheus metrics shared by every process."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

HTTP_REQUESTS = Counter(
    "cortex_http_requests_total",
    "HTTP requests served, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "cortex_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["service", "method", "route"],
    buckets=_LATENCY_BUCKETS,
)
MESSAGES_PROCESSED = Counter(
    "cortex_consumer_messages_total",
    "Messages handled by a consumer, by outcome (processed, duplicate, retried, dead_lettered).",
    ["service", "consumer", "outcome"],
)
MESSAGE_LATENCY = Histogram(
    "cortex_consumer_batch_duration_seconds",
    "Time to handle and commit one batch of messages.",
    ["service", "consumer"],
    buckets=_LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "cortex_consumer_pending_messages",
    "Messages in the stream not yet delivered to the consumer (lag).",
    ["service", "consumer"],
)
OUTBOX_BACKLOG = Gauge(
    "cortex_outbox_backlog",
    "Outbox rows committed but not yet published.",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "cortex_outbox_published_total",
    "Outbox rows published to NATS.",
    ["service"],
)
OUTBOX_FAILURES = Counter(
    "cortex_outbox_publish_failures_total",
    "Failed publish attempts of the outbox relay.",
    ["service"],
)


_configured = False


class SwitchableSampler(Sampler):
    """Records every span while on, none while off (ids still propagate, so logs and callers
    keep the trace id). Off when no exporter is configured: nobody would read the spans."""

    def __init__(self) -> None:
        self.on = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        sampler = ALWAYS_ON if self.on else ALWAYS_OFF
        return sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"SwitchableSampler(on={self.on})"


SAMPLER = SwitchableSampler()


def set_span_recording(on: bool) -> None:
    """Record spans (tests attach an in-memory exporter and turn this on)."""
    SAMPLER.on = on


def configure_tracing(service: str, exporter: str, endpoint: str | None) -> None:
    """Install a tracer provider once per process; exporter ``none`` creates spans, exports none."""
    global _configured
    if _configured:
        return
    _configured = True
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=SAMPLER)
    span_exporter: SpanExporter | None = None
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter))
        SAMPLER.on = True
    trace.set_tracer_provider(provider)


def tracer(name: str = "cortex") -> trace.Tracer:
    return trace.get_tracer(name)


def inject_context(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current W3C trace context into headers (HTTP or NATS)."""
    propagate.inject(carrier)
    return carrier


def extract_context(carrier: Mapping[str, str]) -> Context:
    return propagate.extract(carrier)
