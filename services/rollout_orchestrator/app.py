from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.orm import Session

from cortex_contracts import STREAMS
from cortex_kit.runtime import Runtime, ServiceDefinition, create_service_app
from rollout_orchestrator.agents.endpoints import router as agents_router
from rollout_orchestrator.agents.service import DESIRED_CHANGED
from rollout_orchestrator.agents.waiting import Key, Waiters
from rollout_orchestrator.models import messaging
from rollout_orchestrator.settings import Settings
from rollout_orchestrator.state import RolloutState, state_of


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    cfg = settings or Settings()

    async def build_state(rt: Runtime) -> RolloutState:
        waiters = Waiters(cfg.wait_max_waiters)

        def committed(session: Session) -> None:
            changed: set[Key] = session.info.pop(DESIRED_CHANGED, set())
            if changed:
                waiters.wake(changed)  # long-polls of this process, at once

        rt.db.on_commit(committed)
        return RolloutState(
            clock=clock,
            stale_after=timedelta(seconds=cfg.stale_after_s),
            waiters=waiters,
            wait_max_s=cfg.wait_max_s,
        )

    return create_service_app(
        cfg,
        ServiceDefinition(
            title="CodeValdCortex rollout-orchestrator",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=build_state,
            state=state_of,
            routers=[agents_router],
            max_body_bytes=64 * 1024,
        ),
    )
