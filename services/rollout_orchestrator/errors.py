"""The rollout-orchestrator's errors (rendered as problem+json by the kit), one class per code."""

from __future__ import annotations

from cortex_kit.errors import Conflict, CortexError, NotFound
from cortex_kit.errors import IdempotencyKeyReused as IdempotencyKeyReused


class AgentNotFound(NotFound):
    code = "agent_not_found"
    title = "Agent not found"


class InvalidSelector(CortexError):
    """``selector`` is not ``key=value[,key=value…]`` (equality only)."""

    code = "invalid_selector"
    title = "Invalid label selector"


class DeploymentNotFound(NotFound):
    code = "deployment_not_found"
    title = "Deployment not found"


class ActorRequired(CortexError):
    """The call does not say who the caller is (``X-Cortex-Principal``): a run's creator and
    every command's actor are recorded."""

    code = "actor_required"
    title = "Actor required"


class InvalidPlan(CortexError):
    """The body is not a plan: not YAML/JSON, or not the plan's schema (``errors``)."""

    status = 422
    code = "invalid_plan"
    title = "Invalid deployment plan"
    extra_schema = {"errors": {"type": "array", "items": {"type": "object"}}}


class UnsupportedPlanType(CortexError):
    status = 415
    code = "unsupported_plan_type"
    title = "Unsupported plan media type"


class PlanTooLarge(CortexError):
    status = 413
    code = "plan_too_large"
    title = "Plan too large"


class NoTargets(CortexError):
    status = 422
    code = "no_targets"
    title = "No targets"


class UnknownTargets(CortexError):
    status = 422
    code = "unknown_targets"
    title = "Unknown targets"
    extra_schema = {"missing": {"type": "array", "items": {"type": "string"}}}


class TargetsBusy(Conflict):
    """Targets already in an active run of the agency (``conflicts``)."""

    code = "targets_busy"
    title = "Targets busy"
    extra_schema = {"conflicts": {"type": "array", "items": {"type": "object"}}}


class DeploymentBlocked(CortexError):
    """The policy engine's verdict is fail (``reasons``)."""

    status = 422
    code = "deployment_blocked"
    title = "Deployment blocked by policy"
    extra_schema = {"reasons": {"type": "array", "items": {"type": "object"}}}


class PolicyUnavailable(CortexError):
    """The policy engine could not judge the plan: refused (fail closed)."""

    status = 503
    code = "policy_unavailable"
    title = "Policy engine unavailable"


class InvalidTransition(Conflict):
    """The command does not apply to the run's status (``allowed``)."""

    code = "invalid_transition"
    title = "Invalid transition"
    extra_schema = {
        "status": {"type": "string"},
        "allowed": {"type": "array", "items": {"type": "string"}},
    }
