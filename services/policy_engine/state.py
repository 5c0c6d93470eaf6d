"""What a policy-engine process holds beyond the kit's runtime, built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from cortex_kit.runtime import StateSlot
from policy_engine.evaluation.approval_client import HttpApprovalUses
from policy_engine.evaluation.service import Authorizer


@dataclass(frozen=True)
class PolicyEngineState:
    authorizer: Authorizer  # with the policy cache, the decision log and the approvals client
    approvals: HttpApprovalUses  # the approval workflow's client (closed at stop)


state_of: StateSlot[PolicyEngineState] = StateSlot()
"""``state_of(request)``: the process's state, typed (the cheap accessor of hot paths)."""
