"""The rollout-orchestrator's errors (rendered as problem+json by the kit), one class per code."""

from __future__ import annotations

from cortex_kit.errors import CortexError, NotFound


class AgentNotFound(NotFound):
    code = "agent_not_found"
    title = "Agent not found"


class InvalidSelector(CortexError):
    """``selector`` is not ``key=value[,key=value…]`` (equality only)."""

    code = "invalid_selector"
    title = "Invalid label selector"
