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
    # Deployments (docs/rollouts.md "Deployments"). The policy engine judges each plan; a
    # timeout or an error refuses the plan (fail closed, 503 policy_unavailable).
    policy_engine_url: str = "http://127.0.0.1:8101"
    policy_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # A plan's body (YAML or JSON), at most this many bytes.
    plan_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=8 * 1024 * 1024)
    # The reconciler: it drives every running and rolling-back run from the database. It runs
    # a tick at least this often, and at once after a heartbeat of an observed agent, a new run
    # or a command in this process. ``reconcile_loop=false``: no loop (tests drive ticks).
    reconcile_interval_s: float = Field(default=1.0, gt=0)
    reconcile_loop: bool = True
    reconcile_batch_size: int = Field(default=100, ge=1, le=10_000)  # runs per tick
    runs_gauge_interval_s: float = Field(default=15.0, gt=0)
    # Who drove a transition (``transitions.driver``); default: host, pid and a random word.
    replica_id: str | None = Field(default=None, max_length=200)
    # The approval an override asks for when the policy names no approvers.
    override_approval_roles: tuple[str, ...] = ("admin",)
    override_approval_quorum: int = Field(default=1, ge=1, le=20)
    override_approval_expiry_s: int = Field(default=3600, ge=60)
