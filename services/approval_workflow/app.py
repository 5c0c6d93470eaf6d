from pathlib import Path

from fastapi import FastAPI

from approval_workflow.models import messaging
from approval_workflow.settings import Settings
from cortex_contracts import STREAMS
from cortex_kit.runtime import ServiceDefinition, create_service_app, no_state


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        ServiceDefinition(
            title="CodeValdCortex approval-workflow",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=no_state,
        ),
    )
