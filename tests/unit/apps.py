"""The real apps, built with ``create_app`` and never started (for their OpenAPI documents)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, TEST_SECRETS_KEY

DATABASE_URL = "postgresql+asyncpg://cortex@127.0.0.1:1/never_connected"


def gateway() -> FastAPI:
    from gateway.app import create_app
    from gateway.settings import Settings

    return create_app(
        Settings(
            database_url=DATABASE_URL,
            internal_secret=TEST_INTERNAL_SECRET,
            secrets_key=TEST_SECRETS_KEY,
        )
    )


def policy_engine() -> FastAPI:
    from policy_engine.app import create_app
    from policy_engine.settings import Settings

    return create_app(Settings(database_url=DATABASE_URL, internal_secret=TEST_INTERNAL_SECRET))


def metrics_collector() -> FastAPI:
    from metrics_collector.app import create_app
    from metrics_collector.settings import Settings

    return create_app(Settings(database_url=DATABASE_URL, internal_secret=TEST_INTERNAL_SECRET))


def approval_workflow() -> FastAPI:
    from approval_workflow.app import create_app
    from approval_workflow.settings import Settings

    return create_app(Settings(database_url=DATABASE_URL, internal_secret=TEST_INTERNAL_SECRET))


def rollout_orchestrator() -> FastAPI:
    from rollout_orchestrator.app import create_app
    from rollout_orchestrator.settings import Settings

    return create_app(Settings(database_url=DATABASE_URL, internal_secret=TEST_INTERNAL_SECRET))


APPS: dict[str, Callable[[], FastAPI]] = {
    "gateway": gateway,
    "policy_engine": policy_engine,
    "metrics_collector": metrics_collector,
    "approval_workflow": approval_workflow,
    "rollout_orchestrator": rollout_orchestrator,
}
