from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_ROLLOUT_ORCHESTRATOR_", frozen=True)

    service_name: str = "rollout-orchestrator"
    schema_name: str = "rollout"
    port: int = 8103
    # An agent without a heartbeat for this long is listed as stale (computed when read).
    stale_after_s: float = Field(default=90.0, gt=0)
    # Long-poll (GET /v1/agents/{id}/desired?wait=N): the longest wait, and how many requests
    # may wait at once (more answer at once, without waiting).
    wait_max_s: float = Field(default=30.0, gt=0, le=30)
    wait_max_waiters: int = Field(default=10_000, ge=1)
