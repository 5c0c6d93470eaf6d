"""Settings base shared by every process; each process subclasses it with its own env prefix."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cortex_kit.messaging.transport import DEFAULT_TRANSPORT, TransportName

MIN_SECRET_CHARS = 32
_PLACEHOLDERS = ("changethis", "changeme", "change-me", "change_me", "replaceme", "xxxxxxxx")


def refuse_weak_secret(name: str, value: str) -> None:
    """ValueError unless ``value`` looks like a generated secret: at least 32 characters, not a
    placeholder, not one character repeated (as the full-stack FastAPI template refuses
    ``changethis``)."""
    how = "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
    if not value:
        raise ValueError(f"{name} is not set; {how}")
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(f"{name} is shorter than {MIN_SECRET_CHARS} characters; {how}")
    lowered = value.lower()
    if any(word in lowered for word in _PLACEHOLDERS) or len(set(value)) < 8:
        raise ValueError(f"{name} is a placeholder, not a secret; {how}")


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
    # JetStream on nats-py's public API ("public") or on the kit's hand-written protocol
    # ("fast", faster in the bus benchmark; cortex_kit.messaging.transport).
    nats_transport: TransportName = DEFAULT_TRANSPORT
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
    # Shared by every process of a cluster: the gateway signs its calls to the services with it
    # and the services accept no unsigned call (cortex_kit.internal_auth). `cortex up` generates
    # it; elsewhere it comes from a Secret. No default: a process without it does not start.
    internal_secret: SecretStr = Field(default=SecretStr(""), validate_default=True)
    internal_signature_max_age_s: float = Field(default=30.0, gt=0, le=3600)
    # False only for the public edge (the gateway), which authenticates callers by API key.
    verifies_internal_signatures: ClassVar[bool] = True

    @field_validator("internal_secret")
    @classmethod
    def _strong_internal_secret(cls, value: SecretStr) -> SecretStr:
        prefix = cls.model_config.get("env_prefix", "")
        refuse_weak_secret(f"{prefix}INTERNAL_SECRET", value.get_secret_value())
        return value
