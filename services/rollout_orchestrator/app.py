import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session

from cortex_contracts import STREAMS
from cortex_kit.internal_auth import InternalSigner
from cortex_kit.runtime import Runtime, ServiceDefinition, create_service_app
from rollout_orchestrator.agents.endpoints import router as agents_router
from rollout_orchestrator.agents.service import DESIRED_CHANGED
from rollout_orchestrator.agents.waiting import Key, Waiters
from rollout_orchestrator.deployments.consumers import decided_consumer, violation_consumer
from rollout_orchestrator.deployments.creation import Creation, OverrideApproval
from rollout_orchestrator.deployments.engine.broadcast import desired_broadcast
from rollout_orchestrator.deployments.engine.driving import Driver
from rollout_orchestrator.deployments.engine.reconciler import Reconciler
from rollout_orchestrator.deployments.engine.signals import AFTER_COMMIT, RUNS_CHANGED
from rollout_orchestrator.deployments.http.endpoints import router as deployments_router
from rollout_orchestrator.deployments.http.previewing import router as preview_router
from rollout_orchestrator.deployments.http.watching import RunWatch
from rollout_orchestrator.deployments.policy import PolicyClient
from rollout_orchestrator.models import messaging
from rollout_orchestrator.settings import Settings
from rollout_orchestrator.state import RolloutState, state_of


def utc_now() -> datetime:
    return datetime.now(UTC)


def replica_name(cfg: Settings) -> str:
    return cfg.replica_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _policy_client(cfg: Settings) -> PolicyClient:
    return PolicyClient(
        httpx.AsyncClient(
            base_url=cfg.policy_engine_url,
            auth=InternalSigner(cfg.internal_secret),
            timeout=httpx.Timeout(cfg.policy_timeout_s),
            trust_env=False,
        )
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    policy: PolicyClient | None = None,
) -> FastAPI:
    """``policy``: the policy engine's client (tests pass one over a fake transport)."""
    cfg = settings or Settings()

    async def build_state(rt: Runtime) -> RolloutState:
        waiters = Waiters(cfg.wait_max_waiters)
        watch = RunWatch()
        driver = Driver(rt.tables.outbox, replica_name(cfg))
        reconciler = Reconciler(
            rt.db,
            driver,
            clock,
            interval_s=cfg.reconcile_interval_s,
            batch_size=cfg.reconcile_batch_size,
            gauge_interval_s=cfg.runs_gauge_interval_s,
        )

        def committed(session: Session) -> None:
            changed: set[Key] = session.info.pop(DESIRED_CHANGED, set())
            if changed:
                waiters.wake(changed)  # long-polls of this process, at once
            for observe in session.info.pop(AFTER_COMMIT, []):
                observe()
            if session.info.pop(RUNS_CHANGED, False):
                reconciler.wake()  # a verdict or the next step within a tick
                watch.changed()

        rt.db.on_commit(committed)
        return RolloutState(
            clock=clock,
            stale_after=timedelta(seconds=cfg.stale_after_s),
            waiters=waiters,
            wait_max_s=cfg.wait_max_s,
            creation=Creation(
                driver=driver,
                policy=policy or _policy_client(cfg),
                override_approval=OverrideApproval(
                    roles=cfg.override_approval_roles,
                    quorum=cfg.override_approval_quorum,
                    expiry=timedelta(seconds=cfg.override_approval_expiry_s),
                ),
            ),
            reconciler=reconciler,
            watch=watch,
            plan_max_bytes=cfg.plan_max_bytes,
            reconcile_loop=cfg.reconcile_loop,
        )

    async def start(_rt: Runtime, state: RolloutState) -> None:
        if state.reconcile_loop:
            state.reconciler.start()

    async def stop(_rt: Runtime, state: RolloutState) -> None:
        await state.reconciler.stop()
        await state.creation.policy.close()

    return create_service_app(
        cfg,
        ServiceDefinition(
            title="CodeValdCortex rollout-orchestrator",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=build_state,
            state=state_of,
            routers=[agents_router, preview_router, deployments_router],
            consumers=lambda rt, state: [
                decided_consumer(rt.settings, state.creation.driver, state.clock),
                violation_consumer(rt.settings, state.creation.driver, state.clock),
            ],
            broadcasts=lambda _rt, state: [desired_broadcast(state.waiters)],
            on_start=[start],
            on_stop=[stop],
            max_body_bytes=64 * 1024,
            body_limits={"/v1/deployments": cfg.plan_max_bytes + 1},
        ),
    )
