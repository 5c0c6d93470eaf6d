import asyncio
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware

from cortex_contracts import STREAMS
from cortex_kit.logs import get_logger
from cortex_kit.runtime import Runtime, ServiceDefinition, create_service_app
from gateway.agents.endpoints import router as agents_router
from gateway.approvals.endpoints import router as approvals_router
from gateway.audit.endpoints import router as audit_router
from gateway.audit.trail import AuditMiddleware
from gateway.auth.endpoints import router as keys_router
from gateway.auth.oidc import OidcSettings, OidcVerifier
from gateway.auth.service import KeyCache, bootstrap_admin
from gateway.deployments.endpoints import router as deployments_router
from gateway.domain.people import ClaimNames
from gateway.events.endpoints import router as events_router
from gateway.mappings.endpoints import router as mappings_router
from gateway.mappings.service import MappingCache
from gateway.metrics.endpoints import router as metrics_router
from gateway.models import messaging
from gateway.openapi import document_relayed_answers
from gateway.policies.endpoints import router as policies_router
from gateway.preflight.endpoints import router as preflight_router
from gateway.protection import service as protection
from gateway.protection.idempotency import IdempotencyPolicy
from gateway.protection.limits import RateLimit
from gateway.protection.middleware import ProtectionMiddleware
from gateway.protection.openapi import document_idempotency
from gateway.settings import Settings
from gateway.state import GatewayState, gateway_state
from gateway.trail.endpoints import router as trail_router
from gateway.upstream import Upstreams
from gateway.webhooks.at_rest import start_secrets_at_rest
from gateway.webhooks.crypto import SecretBox
from gateway.webhooks.endpoints import router as webhooks_router

log = get_logger("gateway")


def _people(cfg: Settings) -> OidcVerifier | None:
    if not cfg.oidc_issuer:
        return None
    return OidcVerifier(
        OidcSettings(
            issuer=cfg.oidc_issuer,
            audience=cfg.oidc_audience,
            jwks_url=cfg.oidc_jwks_url,
            jwks_file=cfg.oidc_jwks_file,
            algorithms=cfg.oidc_algorithms,
            claims=ClaimNames(
                role=cfg.oidc_role_claim,
                groups=cfg.oidc_groups_claim,
                agency=cfg.oidc_agency_claim,
                team=cfg.oidc_team_claim,
                approval_roles=cfg.oidc_approval_roles_claim,
                role_map=cfg.oidc_role_map,
                default_agency=cfg.oidc_default_agency,
            ),
        )
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    cfg = settings or Settings()

    async def build_state(rt: Runtime) -> GatewayState:
        return GatewayState(
            key_cache=KeyCache(cfg.key_cache_ttl_s),
            upstreams=Upstreams(
                {
                    "policy_engine": cfg.policy_engine_url,
                    "metrics_collector": cfg.metrics_collector_url,
                    "rollout_orchestrator": cfg.rollout_orchestrator_url,
                    "approval_workflow": cfg.approval_workflow_url,
                    "analytics": cfg.analytics_url,
                },
                cfg.upstream_timeout_s,
                secret=cfg.internal_secret,
            ),
            max_events=cfg.max_events_per_request,
            secrets=SecretBox(cfg.secrets_key),
            mappings=MappingCache(cfg.mapping_cache_ttl_s),
            limiter=protection.limiter(
                rt.db,
                RateLimit(per_s=cfg.rate_limit_per_s, burst=cfg.rate_limit_burst),
                cfg.rate_limit_lease_s,
                cfg.rate_limit_overrides,
            )
            if cfg.rate_limit_enabled
            else None,
            idempotency=IdempotencyPolicy(
                ttl_s=cfg.idempotency_ttl_s,
                wait_s=cfg.idempotency_wait_s,
                # No request runs longer than a relayed call may: after that the holder is gone.
                lock_s=2 * cfg.upstream_timeout_s + 30.0,
            ),
            people=_people(cfg),
            preflight_deadline_s=cfg.preflight_deadline_s,
        )

    sweeper: list[asyncio.Task[None]] = []

    async def start(rt: Runtime, state: GatewayState) -> None:
        await start_secrets_at_rest(rt, state.secrets)
        sweeper.append(asyncio.create_task(protection.sweep_forever(rt.db)))
        if cfg.bootstrap_admin_key and cfg.bootstrap_admin_key.get_secret_value():
            async with rt.db.session() as session:
                await bootstrap_admin(session, cfg.bootstrap_admin_key.get_secret_value())

    async def stop(_rt: Runtime, state: GatewayState) -> None:
        for task in sweeper:
            task.cancel()
        await state.upstreams.close()

    app = create_service_app(
        cfg,
        ServiceDefinition(
            title="CodeValdCortex API",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=build_state,
            state=gateway_state,
            routers=[
                keys_router,
                events_router,
                policies_router,
                metrics_router,
                mappings_router,
                webhooks_router,
                approvals_router,
                audit_router,
                trail_router,
                preflight_router,
                agents_router,
                deployments_router,
            ],
            on_start=[start],
            on_stop=[stop],
            middleware=[Middleware(ProtectionMiddleware), Middleware(AuditMiddleware)],
            max_body_bytes=cfg.max_body_bytes,
            body_limits={
                "/v1/events": cfg.max_events_body_bytes,
                "/v1/webhooks/": cfg.max_webhook_body_bytes,
            },
        ),
    )
    document_relayed_answers(app)
    document_idempotency(app)
    return app
