from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from cortex_contracts import STREAMS
from cortex_kit.runtime import Runtime, ServiceDefinition, create_service_app
from metrics_collector.dora.cache import DoraCache
from metrics_collector.dora.endpoints import router as dora_router
from metrics_collector.dora.prometheus import DoraCollector, export
from metrics_collector.dora.service import DoraFeature
from metrics_collector.events.consumers import delivery_consumer, rollout_consumer
from metrics_collector.events.endpoints import router as events_router
from metrics_collector.models import messaging
from metrics_collector.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    cfg = settings

    async def start(rt: Runtime) -> None:
        cache = DoraCache(rt.db, poll_interval_s=cfg.dora_poll_interval_s)
        rt.extras["dora"] = DoraFeature(cache, cfg.dora_max_window_days)
        rt.extras["dora_collector"] = export(cache, timedelta(days=cfg.dora_prometheus_window_days))
        await cache.start(rt.bus)
        if cfg.dora_warm_on_start:
            cache.spawn_warm()

    async def stop(rt: Runtime) -> None:
        feature = rt.extras.get("dora")
        if isinstance(feature, DoraFeature):
            await feature.cache.stop()
            collector = rt.extras.get("dora_collector")
            if isinstance(collector, DoraCollector):
                collector.detach(feature.cache)

    async def dora_ready(rt: Runtime) -> str | None:
        feature = rt.extras.get("dora")
        return feature.cache.warming_up() if isinstance(feature, DoraFeature) else "starting"

    def facts_committed(rt: Runtime, agencies: set[str]) -> None:
        feature = rt.extras.get("dora")
        if isinstance(feature, DoraFeature):
            feature.cache.committed(agencies)

    return create_service_app(
        settings,
        ServiceDefinition(
            title="CodeValdCortex metrics-collector",
            migrations_dir=Path(__file__).parent / "migrations",
            tables=messaging,
            streams=STREAMS,
            routers=[events_router, dora_router],
            consumers=lambda rt: [
                delivery_consumer(
                    rt.settings,
                    lambda agencies: facts_committed(rt, agencies),
                    concurrency=cfg.delivery_consumer_concurrency,
                    max_batch_bytes=cfg.delivery_consumer_max_batch_bytes,
                ),
                rollout_consumer(
                    rt.settings,
                    lambda agencies: facts_committed(rt, agencies),
                    concurrency=cfg.delivery_consumer_concurrency,
                ),
            ],
            on_start=[start],
            on_stop=[stop],
            readiness={"dora_cache": dora_ready},
        ),
    )
