from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from approval_workflow.notifications.crypto import parse_keys
from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_APPROVAL_WORKFLOW_", frozen=True)

    service_name: str = "approval-workflow"
    schema_name: str = "approval"
    port: int = 8104
    # Who may not approve: "requester" (the requester itself, always refused) or "team" (nobody
    # of the requester's team). A request may ask for stricter, never for looser.
    approval_separation: Literal["requester", "team"] = "requester"
    approval_default_expiry_s: int = Field(default=86_400, ge=60)
    approval_max_expiry_s: int = Field(default=30 * 86_400, ge=60)
    # The reconciler: how often it looks for due timers, and how many it fires per transaction.
    timer_interval_s: float = Field(default=1.0, gt=0)
    timer_batch_size: int = Field(default=1000, ge=1, le=10_000)
    # How often the pending gauge is recomputed from the database.
    pending_gauge_interval_s: float = Field(default=15.0, gt=0)
    # Long-poll (GET /v1/approvals/{id}?wait=N): the longest wait, how often waiting requests are
    # also checked in the database (a replica's decision whose broadcast was missed), and how
    # many requests may wait at once (more answer at once, without waiting).
    wait_max_s: float = Field(default=60.0, gt=0, le=300)
    wait_poll_interval_s: float = Field(default=2.0, gt=0)
    wait_max_waiters: int = Field(default=10_000, ge=1)
    # Notifications (docs/approvals.md "Notifications"). Signing secrets at rest: Fernet keys,
    # comma-separated, the first encrypts; empty: a key derived from the internal secret.
    notification_secrets_key: SecretStr = SecretStr("")
    # Targets on loopback, private or link-local addresses are refused (SSRF) unless allowed.
    notification_allow_private_urls: bool = False
    # Whether this replica delivers (every replica stages; any number may deliver).
    notification_delivery: bool = True
    notification_max_attempts: int = Field(default=8, ge=1, le=50)
    notification_backoff_s: float = Field(default=2.0, gt=0)  # the first retry's delay
    notification_max_backoff_s: float = Field(default=600.0, gt=0)
    notification_timeout_s: float = Field(default=10.0, gt=0, le=120)  # one attempt, in all
    # A claimed notification is leased this long: longer than an attempt can take, so two
    # replicas never send one at once; a replica that dies mid-send is retried after it.
    notification_lease_s: float = Field(default=60.0, gt=0)
    notification_poll_interval_s: float = Field(default=1.0, gt=0)
    notification_batch_size: int = Field(default=50, ge=1, le=1000)
    notification_concurrency: int = Field(default=16, ge=1, le=256)
    notification_retention_s: float = Field(default=7 * 86_400.0, gt=0)
    # A link to each request in the messages, e.g. "https://cortex.example.com/approvals/{id}".
    notification_link_template: str | None = Field(default=None, max_length=500)

    @field_validator("notification_secrets_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr) -> SecretStr:
        parse_keys(value.get_secret_value())
        return value

    @field_validator("notification_link_template")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and (
            "{id}" not in value or not value.startswith(("https://", "http://"))
        ):
            raise ValueError("must be an http(s) URL with {id} where the approval id goes")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Self:
        if self.notification_lease_s < 2 * self.notification_timeout_s:
            raise ValueError("notification_lease_s must be at least twice notification_timeout_s")
        return self
