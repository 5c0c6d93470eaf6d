"""Judge a deployment plan against the effective policy: pure evaluation, nothing recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from policy_engine.deployments.schemas import DeploymentPlanRequest, Verdict
from policy_engine.domain.decisions.checks import no_policy
from policy_engine.domain.decisions.compiler import DeploymentSettings
from policy_engine.domain.decisions.decision import Decision, DecisionResult
from policy_engine.domain.decisions.deployment import DeploymentPlanInput
from policy_engine.domain.decisions.evaluator import evaluate_deployment
from policy_engine.evaluation.cache import PolicyCache

VERDICTS: dict[Decision, Verdict] = {
    "allow": "pass",
    "deny": "fail",
    "require_approval": "needs_approval",
}


def verdict_of(decision: Decision) -> Verdict:
    return VERDICTS[decision]


def plan_input(agency: str, body: DeploymentPlanRequest, now: datetime) -> DeploymentPlanInput:
    """The domain's plan: the caller's agency, the plan's time (``at``, or ``now``)."""
    return DeploymentPlanInput(
        agency=agency,
        service=body.service,
        environment=body.environment,
        target_agents=body.target_agents,
        batch_size=body.batch_size,
        config_changes=body.config_changes,
        now=(body.at or now).astimezone(UTC),
        team=body.team,
        deployment_id=body.deployment_id,
        change_kind=body.change_kind,
        model=body.model,
        labels=dict(body.labels),
        recent_change_failure_rate=body.recent_change_failure_rate,
        risk_score=body.risk_score,
        extra=dict(body.context),
    )


@dataclass(frozen=True, slots=True)
class PlanEvaluation:
    verdict: Verdict
    result: DecisionResult
    limits: DeploymentSettings | None
    """None when no policy decides for the agency (the verdict is then ``fail``)."""
    policy_version: str
    evaluated_at: datetime


async def evaluate(
    cache: PolicyCache, agency: str, body: DeploymentPlanRequest, now: datetime | None = None
) -> PlanEvaluation:
    """The verdict on ``body`` under ``agency``'s (and ``body.team``'s) effective policy, read
    through the authorize path's cache. No policy: ``fail`` (closed), with a ``no_policy``
    reason; an evaluation error: ``fail`` with ``policy_evaluation_error``."""
    at = now or datetime.now(UTC)
    entry = await cache.get(agency, body.team)
    if entry.compiled is None:
        return PlanEvaluation("fail", no_policy(agency), None, entry.version, at)
    result = evaluate_deployment(entry.compiled, plan_input(agency, body, at))
    return PlanEvaluation(
        verdict_of(result.decision), result, entry.compiled.deployment, entry.version, at
    )
