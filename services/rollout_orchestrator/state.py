"""What a rollout-orchestrator process holds beyond the kit's runtime, built once at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends

from cortex_kit.runtime import StateSlot
from rollout_orchestrator.agents.waiting import Waiters
from rollout_orchestrator.deployments.creation import Creation
from rollout_orchestrator.deployments.engine.reconciler import Reconciler
from rollout_orchestrator.deployments.http.watching import RunWatch


@dataclass(frozen=True)
class RolloutState:
    clock: Callable[[], datetime]  # the one clock of heartbeats, staleness, runs and gates
    stale_after: timedelta
    waiters: Waiters  # desired-revision long-polls, woken after commit
    wait_max_s: float
    creation: Creation  # the driver (outbox, replica), the policy client, override approvals
    reconciler: Reconciler  # drives running and rolling-back runs
    watch: RunWatch  # long-polls on a run's record
    plan_max_bytes: int
    reconcile_loop: bool


state_of: StateSlot[RolloutState] = StateSlot()
"""``state_of(request)``: the process's state, typed."""
State = Annotated[RolloutState, Depends(state_of.dependency)]
"""The process's state as an endpoint parameter."""
