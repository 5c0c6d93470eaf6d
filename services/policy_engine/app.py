from pathlib import Path

from fastapi import FastAPI

from cortex_contracts import STREAMS
from cortex_kit.batching import BatchWriter
from cortex_kit.runtime import Runtime, ServiceDefinition, create_service_app
from policy_engine.deployments.endpoints import router as deployments_router
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.evaluation.approval_client import HttpApprovalUses
from policy_engine.evaluation.cache import PolicyCache
from policy_engine.evaluation.decision_log import DecisionLog, LoggedDecision
from policy_engine.evaluation.endpoints import router as authorize_router
from policy_engine.evaluation.service import Authorizer, RecentViolations
from policy_engine.models import messaging
from policy_engine.policies.endpoints import router as policies_router
from policy_engine.policies.service import compiled_for
from policy_engine.settings import Settings
from policy_engine.state import PolicyEngineState, state_of
from policy_engine.wizard.endpoints import router as wizard_router


def create_app(settings: Settings | None = None) -> FastAPI:
    cfg = settings or Settings()

    async def build_state(rt: Runtime) -> PolicyEngineState:
        async def load(agency: str, team: str | None) -> tuple[CompiledPolicy, str] | None:
            async with rt.db.session() as session:
                return await compiled_for(session, agency, team)

        cache = PolicyCache(load, max_age_s=cfg.policy_cache_max_age_s)
        log = DecisionLog(rt.db, rt.tables.outbox)
        writer: BatchWriter[LoggedDecision] = BatchWriter(
            log.write,
            name="decisions",
            max_batch=500,
            max_delay_s=cfg.decision_log_delay_s,
            flush_timeout_s=cfg.decision_log_timeout_s,
        )
        writer.start()
        approvals = HttpApprovalUses(
            cfg.approval_workflow_url, cfg.internal_secret, cfg.approval_workflow_timeout_s
        )
        authorizer = Authorizer(
            rt.db,
            cache,
            writer,
            RecentViolations(),
            durable_log=cfg.decision_log_durable,
            approvals=approvals,
            outbox=rt.tables.outbox,
        )
        return PolicyEngineState(authorizer, approvals)

    async def stop(_rt: Runtime, state: PolicyEngineState) -> None:
        await state.authorizer.log.stop()
        await state.approvals.close()

    return create_service_app(
        cfg,
        ServiceDefinition(
            title="CodeValdCortex policy-engine",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=build_state,
            state=state_of,
            routers=[authorize_router, deployments_router, policies_router, wizard_router],
            broadcasts=lambda _rt, state: [state.authorizer.cache.notices()],
            on_stop=[stop],
        ),
    )
