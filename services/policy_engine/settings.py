from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_POLICY_ENGINE_", frozen=True)

    service_name: str = "policy-engine"
    schema_name: str = "policy"
    port: int = 8101

    policy_cache_max_age_s: float = 30.0
    # Durable (the default): a decision is committed in the decision log, group-committed with
    # the concurrent ones, before it is answered. False trades that for latency: the log is
    # written behind the answer, and a killed process loses up to decision_log_delay_s of it.
    decision_log_durable: bool = True
    decision_log_delay_s: float = Field(default=0.1, ge=0.0)
    """Write-behind only: how long a batch waits to fill."""
    decision_log_timeout_s: float = Field(default=5.0, gt=0.0)
    """Durable only: a batch not committed by then answers its requests 503."""
    # Smaller relay batches than the kit's 1,000: every flush of the decision log stages about
    # 1.5 events per decision, and publishing a whole flush's worth in one go held the event
    # loop (and the authorize requests behind it) for a few milliseconds.
    outbox_batch_size: int = Field(default=100, ge=1, le=10_000)
    # Bounds on policy texts and wizard bodies (docs/policies.md "Parser limits"): checked in
    # one linear pass before any recursive parse, so no body can stall the engine.
    policy_max_bytes: int = Field(default=131_072, ge=1_024, le=16 * 1_048_576)
    policy_max_depth: int = Field(default=32, ge=8, le=200)
    policy_max_aliases: int = Field(default=100, ge=0)
    policy_max_nodes: int = Field(default=50_000, ge=100)
    # The approval workflow, asked to use a granted approval when an agent re-authorizes with
    # `approval_id` (docs/approvals.md "Agent actions"); unreachable, the engine fails closed.
    approval_workflow_url: str = "http://127.0.0.1:8104"
    approval_workflow_timeout_s: float = Field(default=5.0, gt=0.0, le=60.0)
