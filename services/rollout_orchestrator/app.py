from pathlib import Path

from fastapi import FastAPI

from cortex_contracts import STREAMS
from cortex_kit.runtime import ServiceDefinition, create_service_app, no_state
from rollout_orchestrator.models import messaging
from rollout_orchestrator.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        ServiceDefinition(
            title="CodeValdCortex rollout-orchestrator",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=no_state,
        ),
    )
