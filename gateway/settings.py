from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings
from gateway.domain.keys import Role
from gateway.protection.limits import RateLimit
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
    # Preflight asks the orchestrator, the approval workflow and the metrics collector at once;
    # a service silent this long is a finding (docs/api.md "Preflight").
    preflight_deadline_s: float = Field(default=2.0, gt=0, le=30)
    max_events_per_request: int = Field(default=1000, ge=1)
    # Request body limits (413 beyond them): every route, the events batch, webhooks (GitHub
    # caps its own deliveries at 25 MB).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_events_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_webhook_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # Per-key token buckets shared by the replicas (docs/api.md "Rate limits"): the average
    # rate, the burst, how long a replica spends tokens it took from the shared bucket, and
    # per-key overrides as JSON: {"<key id>": {"per_s": 500, "burst": 1000}}.
    rate_limit_enabled: bool = True
    rate_limit_per_s: float = Field(default=100.0, gt=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    rate_limit_lease_s: float = Field(default=0.2, gt=0, le=10)
    rate_limit_overrides: dict[str, RateLimit] = Field(default_factory=dict)
    # Idempotency-Key on creating POSTs (docs/api.md "Idempotency"): how long an answer is
    # kept, how long a duplicate waits for the first request before a 409.
    idempotency_ttl_s: float = Field(default=24 * 3600.0, ge=60)
    idempotency_wait_s: float = Field(default=5.0, ge=0, le=60)

    # People sign in with OpenID Connect beside API keys when an issuer is set: JWTs of that
    # issuer for that audience, keys from a JWKS file or URL (docs/api.md "People (OIDC)").
    oidc_issuer: str | None = None
    oidc_audience: str = "cortex"
    oidc_jwks_url: str | None = None
    oidc_jwks_file: Path | None = None
    oidc_algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256", "EdDSA")
    oidc_role_claim: str = "cortex_role"
    oidc_groups_claim: str = "groups"
    # JSON: {"<group>": "<role>"}, e.g. {"sre": "deployer", "security": "approver"}.
    oidc_role_map: dict[str, Role] = Field(default_factory=dict)
    oidc_agency_claim: str = "cortex_agency"
    oidc_default_agency: str | None = None
    oidc_team_claim: str = "cortex_team"
    oidc_approval_roles_claim: str = "cortex_approval_roles"

    @model_validator(mode="after")
    def _oidc_keys(self) -> Self:
        if self.oidc_issuer and (self.oidc_jwks_url is None) == (self.oidc_jwks_file is None):
            raise ValueError(
                "with CORTEX_GATEWAY_OIDC_ISSUER set, set exactly one of "
                "CORTEX_GATEWAY_OIDC_JWKS_URL and CORTEX_GATEWAY_OIDC_JWKS_FILE"
            )
        return self

    @field_validator("secrets_key")
    @classmethod
    def _usable_secrets_key(cls, value: SecretStr) -> SecretStr:
        parse_keys(value.get_secret_value())
        return value
