"""``POST /v1/approvals/{id}/uses`` input and output."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from approval_workflow.uses.service import UseGranted
from cortex_kit.text import IdentifierText


class UseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_hash: IdentifierText = Field(min_length=1, max_length=200)
    agent_id: IdentifierText = Field(min_length=1, max_length=200)
    decision_id: IdentifierText = Field(
        min_length=1, max_length=200, description="The policy engine's decision that uses it."
    )


class UseOut(BaseModel):
    approval_id: str
    decision_id: str
    agent_id: str
    approvers: list[str] = Field(description="Who approved, in the order they approved.")
    uses: int = Field(description="Uses so far, this one included.")
    allowance: int
    expires_at: datetime = Field(description="Until when the grant can be used.")
    repeated: bool = Field(description="This decision had used it already (nothing changed).")

    @classmethod
    def of(cls, granted: UseGranted) -> UseOut:
        return cls(
            approval_id=granted.approval_id,
            decision_id=granted.decision_id,
            agent_id=granted.agent_id,
            approvers=list(granted.approvers),
            uses=granted.uses,
            allowance=granted.allowance,
            expires_at=granted.expires_at,
            repeated=granted.repeated,
        )
