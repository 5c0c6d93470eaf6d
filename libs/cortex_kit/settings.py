"""Settings base shared by every process; each process subclasses it with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProcessSettings(BaseSettings):
    """Common settings of a cortex process.

    Subclasses set ``model_config = SettingsConfigDict(env_prefix="CORTEX_<NAME>_")`` and a
    ``schema_name``; every field can then be set as ``CORTEX_<NAME>_<FIELD>``.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "cortex"
    schema_name: str = "public"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:15432/cortex"
    database_pool_size: int = Field(default=10, ge=1)
    nats_url: str = "nats://127.0.0.1:14222"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str | None = None
    run_migrations: bool = True
    outbox_batch_size: int = Field(default=1000, ge=1, le=10_000)
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    consumer_max_deliver: int = Field(default=5, ge=1)
    consumer_ack_wait_s: float = Field(default=30.0, gt=0)
