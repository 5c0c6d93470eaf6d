import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session

from approval_workflow.approvals import metrics
from approval_workflow.approvals.consumers import requested_consumer
from approval_workflow.approvals.endpoints import router as approvals_router
from approval_workflow.approvals.service import CLOSED, ESCALATED
from approval_workflow.approvals.staging import Staging
from approval_workflow.approvals.timers import Clock, Reconciler
from approval_workflow.approvals.waiting import Waiters, WaitPoll
from approval_workflow.domain.model import Approval
from approval_workflow.models import messaging
from approval_workflow.notifications import service as notifications
from approval_workflow.notifications.crypto import SecretBox
from approval_workflow.notifications.delivery import USER_AGENT, Deliverer, Policy
from approval_workflow.notifications.endpoints import router as notifications_router
from approval_workflow.settings import Settings
from approval_workflow.state import ApprovalState, NotificationState, state_of
from approval_workflow.uses.endpoints import router as uses_router
from cortex_contracts import STREAMS
from cortex_kit.logs import get_logger
from cortex_kit.runtime import Runtime, ServiceDefinition, create_service_app

log = get_logger("approval_workflow.app")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _policy(cfg: Settings) -> Policy:
    return Policy(
        max_attempts=cfg.notification_max_attempts,
        backoff_s=cfg.notification_backoff_s,
        max_backoff_s=cfg.notification_max_backoff_s,
        timeout_s=cfg.notification_timeout_s,
        lease_s=cfg.notification_lease_s,
        batch_size=cfg.notification_batch_size,
        concurrency=cfg.notification_concurrency,
        poll_interval_s=cfg.notification_poll_interval_s,
        retention_s=cfg.notification_retention_s,
        allow_private=cfg.notification_allow_private_urls,
    )


def _deliverer(rt: Runtime, cfg: Settings, box: SecretBox) -> Deliverer | None:
    if not cfg.notification_delivery:
        return None
    # httpx logs each request's URL at INFO: a target's path is a credential (Slack's token).
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(cfg.notification_timeout_s),
        follow_redirects=False,  # a redirect could lead anywhere (SSRF): never followed
        trust_env=False,  # no proxy from the environment: the address checked is the one used
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=cfg.notification_concurrency),
    )
    return Deliverer(rt.db, box, client, _policy(cfg))


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    cfg = settings or Settings()

    async def build_state(rt: Runtime) -> ApprovalState:
        waiters = Waiters(cfg.wait_max_waiters)
        box = SecretBox(
            cfg.notification_secrets_key.get_secret_value(),
            cfg.internal_secret.get_secret_value(),
        )
        deliverer = _deliverer(rt, cfg, box)

        def committed(session: Session) -> None:
            closed: list[Approval] = session.info.pop(CLOSED, [])
            escalated: list[Approval] = session.info.pop(ESCALATED, [])
            if closed:
                waiters.wake([a.id for a in closed])  # long-polls of this process, at once
                metrics.closed(closed)
            metrics.escalated(escalated)
            if session.info.pop(notifications.STAGED, False) and deliverer is not None:
                deliverer.wake()

        rt.db.on_commit(committed)
        staging = Staging(rt.tables.outbox, notifications.Notifier(cfg.notification_link_template))
        reconciler = Reconciler(
            rt.db,
            staging,
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
            staging=staging,
            notifications=NotificationState(box, cfg.notification_allow_private_urls, deliverer),
        )

    async def start(rt: Runtime, state: ApprovalState) -> None:
        if cfg.notification_secrets_key.get_secret_value():
            async with rt.db.session() as session:
                sealed = await notifications.reseal_secrets(session, state.notifications.box)
            if sealed:
                log.info("approval.notification_secrets_resealed", agencies=sealed)
        state.reconciler.start()
        state.wait_poll.start()
        if state.notifications.deliverer is not None:
            state.notifications.deliverer.start()

    async def stop(_rt: Runtime, state: ApprovalState) -> None:
        await state.reconciler.stop()
        await state.wait_poll.stop()
        if state.notifications.deliverer is not None:
            await state.notifications.deliverer.stop()
            await state.notifications.deliverer.close()

    return create_service_app(
        cfg,
        ServiceDefinition(
            title="CodeValdCortex approval-workflow",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=build_state,
            state=state_of,
            # notifications first: /v1/approvals/{approval_id} would match its path too
            routers=[notifications_router, approvals_router, uses_router],
            consumers=lambda rt, state: [
                requested_consumer(
                    rt.settings,
                    state.staging,
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
