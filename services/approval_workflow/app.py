from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.orm import Session

from approval_workflow.approvals import metrics
from approval_workflow.approvals.consumers import requested_consumer
from approval_workflow.approvals.endpoints import router as approvals_router
from approval_workflow.approvals.service import CLOSED, ESCALATED
from approval_workflow.approvals.timers import Clock, Reconciler
from approval_workflow.approvals.waiting import Waiters, WaitPoll
from approval_workflow.domain.model import Approval
from approval_workflow.models import messaging
from approval_workflow.settings import Settings
from approval_workflow.state import ApprovalState, state_of
from approval_workflow.uses.endpoints import router as uses_router
from cortex_contracts import STREAMS
from cortex_kit.runtime import Runtime, ServiceDefinition, create_service_app


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    cfg = settings or Settings()

    async def build_state(rt: Runtime) -> ApprovalState:
        waiters = Waiters(cfg.wait_max_waiters)

        def committed(session: Session) -> None:
            closed: list[Approval] = session.info.pop(CLOSED, [])
            escalated: list[Approval] = session.info.pop(ESCALATED, [])
            if closed:
                waiters.wake([a.id for a in closed])  # long-polls of this process, at once
                metrics.closed(closed)
            metrics.escalated(escalated)

        rt.db.on_commit(committed)
        reconciler = Reconciler(
            rt.db,
            rt.tables,
            clock,
            interval_s=cfg.timer_interval_s,
            batch_size=cfg.timer_batch_size,
            gauge_interval_s=cfg.pending_gauge_interval_s,
        )
        return ApprovalState(
            clock=clock,
            separation=cfg.approval_separation,
            default_expiry=timedelta(seconds=cfg.approval_default_expiry_s),
            max_expiry=timedelta(seconds=cfg.approval_max_expiry_s),
            waiters=waiters,
            wait_max_s=cfg.wait_max_s,
            reconciler=reconciler,
            wait_poll=WaitPoll(rt.db, waiters, cfg.wait_poll_interval_s),
        )

    async def start(_rt: Runtime, state: ApprovalState) -> None:
        state.reconciler.start()
        state.wait_poll.start()

    async def stop(_rt: Runtime, state: ApprovalState) -> None:
        await state.reconciler.stop()
        await state.wait_poll.stop()

    return create_service_app(
        cfg,
        ServiceDefinition(
            title="CodeValdCortex approval-workflow",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=build_state,
            state=state_of,
            routers=[approvals_router, uses_router],
            consumers=lambda rt, state: [
                requested_consumer(
                    rt.settings,
                    rt.tables.outbox,
                    separation=state.separation,
                    default_expiry=state.default_expiry,
                    clock=state.clock,
                )
            ],
            broadcasts=lambda _rt, state: [state.waiters.broadcast()],
            on_start=[start],
            on_stop=[stop],
            max_body_bytes=256 * 1024,
        ),
    )
