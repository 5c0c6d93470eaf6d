from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings
from gateway.webhooks.crypto import parse_keys


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_GATEWAY_", frozen=True)

    # The public edge: callers authenticate with API keys; the gateway signs what it forwards.
    verifies_internal_signatures: ClassVar[bool] = False

    service_name: str = "gateway"
    schema_name: str = "gateway"
    port: int = 8080
    policy_engine_url: str = "http://127.0.0.1:8101"
    metrics_collector_url: str = "http://127.0.0.1:8102"
    rollout_orchestrator_url: str = "http://127.0.0.1:8103"
    approval_workflow_url: str = "http://127.0.0.1:8104"
    analytics_url: str = "http://127.0.0.1:8105"
    bootstrap_admin_key: SecretStr | None = None
    # Fernet key(s), comma-separated, first one encrypts: webhook secrets at rest. Required.
    secrets_key: SecretStr = Field(default=SecretStr(""), validate_default=True)
    key_cache_ttl_s: float = Field(default=5.0, ge=0)
    # How long a replica maps webhook deliveries with the mapping it read (docs/metrics.md
    # "Mappings"): another replica's change applies here within this time.
    mapping_cache_ttl_s: float = Field(default=5.0, ge=0)
    upstream_timeout_s: float = Field(default=10.0, gt=0)
    max_events_per_request: int = Field(default=1000, ge=1)
    # Request body limits (413 beyond them): every route, the events batch, webhooks (GitHub
    # caps its own deliveries at 25 MB).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_events_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_webhook_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)

    @field_validator("secrets_key")
    @classmethod
    def _usable_secrets_key(cls, value: SecretStr) -> SecretStr:
        parse_keys(value.get_secret_value())
        return value
