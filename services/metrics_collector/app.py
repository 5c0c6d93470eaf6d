from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from cortex_contracts import STREAMS
from cortex_kit.runtime import Runtime, ServiceDefinition, create_service_app
from metrics_collector.dora.cache import DoraCache
from metrics_collector.dora.endpoints import router as dora_router
from metrics_collector.dora.prometheus import export
from metrics_collector.dora.service import DoraFeature
from metrics_collector.events.consumers import delivery_consumer, rollout_consumer
from metrics_collector.events.endpoints import router as events_router
from metrics_collector.models import messaging
from metrics_collector.settings import Settings
from metrics_collector.state import CollectorState, state_of


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    cfg = settings

    async def build_state(rt: Runtime) -> CollectorState:
        cache = DoraCache(rt.db, poll_interval_s=cfg.dora_poll_interval_s)
        state = CollectorState(
            DoraFeature(cache, cfg.dora_max_window_days),
            export(cache, timedelta(days=cfg.dora_prometheus_window_days)),
        )
        await cache.start(rt.bus)
        if cfg.dora_warm_on_start:
            cache.spawn_warm()
        return state

    async def stop(_rt: Runtime, state: CollectorState) -> None:
        await state.dora.cache.stop()
        state.prometheus.detach(state.dora.cache)

    async def dora_ready(_rt: Runtime, state: CollectorState) -> str | None:
        return state.dora.cache.warming_up()

    return create_service_app(
        settings,
        ServiceDefinition(
            title="CodeValdCortex metrics-collector",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            build_state=build_state,
            state=state_of,
            routers=[events_router, dora_router],
            consumers=lambda rt, state: [
                delivery_consumer(
                    rt.settings,
                    state.dora.cache.committed,
                    concurrency=cfg.delivery_consumer_concurrency,
                    max_batch_bytes=cfg.delivery_consumer_max_batch_bytes,
                ),
                rollout_consumer(
                    rt.settings,
                    state.dora.cache.committed,
                    concurrency=cfg.delivery_consumer_concurrency,
                ),
            ],
            on_stop=[stop],
            readiness={"dora_cache": dora_ready},
        ),
    )
