"""What an approval-workflow process holds beyond the kit's runtime, built once at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends

from approval_workflow.approvals.staging import Staging
from approval_workflow.approvals.timers import Reconciler
from approval_workflow.approvals.waiting import Waiters, WaitPoll
from approval_workflow.domain.model import Separation
from approval_workflow.notifications.crypto import SecretBox
from approval_workflow.notifications.delivery import Deliverer
from cortex_kit.runtime import StateSlot


@dataclass(frozen=True)
class NotificationState:
    box: SecretBox  # seals and opens the agencies' signing secrets
    allow_private: bool  # targets may be on loopback or private networks (tests, labs)
    deliverer: Deliverer | None  # None: this replica stages but does not deliver


@dataclass(frozen=True)
class ApprovalState:
    clock: Callable[[], datetime]  # the one clock of the rules, the timers and the API
    separation: Separation  # the service's separation rule (a request may only tighten it)
    default_expiry: timedelta
    max_expiry: timedelta
    waiters: Waiters  # long-polls, woken after commit, by broadcast and by a short poll
    wait_max_s: float
    reconciler: Reconciler  # fires due timers
    wait_poll: WaitPoll
    staging: Staging  # the outbox and the notification queue of every use case
    notifications: NotificationState


state_of: StateSlot[ApprovalState] = StateSlot()
"""``state_of(request)``: the process's state, typed."""
State = Annotated[ApprovalState, Depends(state_of.dependency)]
"""The process's state as an endpoint parameter."""
