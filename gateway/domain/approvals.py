"""Approvals at the gateway: pure rules (who decides, how long a long-poll may hold a call)."""

from __future__ import annotations

from gateway.domain.keys import DECIDING_ROLES, Principal

MAX_WAIT_S = 30.0
"""The longest long-poll the gateway holds (``GET /v1/approvals/{id}?wait=N``)."""


def long_poll_s(wait: float) -> float:
    """The wait relayed for a requested ``wait``: at most :data:`MAX_WAIT_S`."""
    return min(max(wait, 0.0), MAX_WAIT_S)


def may_decide(principal: Principal) -> bool:
    """Only approver and admin keys decide; their approval roles say which requests."""
    return principal.role in DECIDING_ROLES
