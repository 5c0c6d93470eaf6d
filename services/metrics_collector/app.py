from pathlib import Path

from fastapi import FastAPI

from cortex_contracts import STREAMS
from cortex_kit.runtime import ServiceDefinition, create_service_app
from metrics_collector.events.consumers import delivery_consumer
from metrics_collector.events.endpoints import router as events_router
from metrics_collector.models import messaging
from metrics_collector.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        ServiceDefinition(
            title="CodeValdCortex metrics-collector",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            routers=[events_router],
            consumers=lambda rt: [delivery_consumer(rt.settings)],
        ),
    )
