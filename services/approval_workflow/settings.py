from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

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
