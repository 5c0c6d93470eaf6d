"""Risk scores in [0, 1] from documented factors (docs/policies.md#risk-score).

Each factor is normalised to [0, 1] and is non-decreasing in its input; the score is their
weighted sum (weights add up to 1), clamped to [0, 1].
"""

from __future__ import annotations

from enum import IntEnum

from cachetools import LRUCache

from policy_engine.domain.document.glob import compile_globs
from policy_engine.domain.document.schema import DATA_CLASSES

AUTONOMY_WEIGHT = 0.30
DATA_CLASS_WEIGHT = 0.25
COST_WEIGHT = 0.15
MODEL_WEIGHT = 0.15
VIOLATIONS_WEIGHT = 0.15
#: Recent violations at which the violations factor reaches 0.5.
VIOLATIONS_HALF = 3
#: Cost that counts as "the whole budget" when no USD budget applies to the request.
REFERENCE_COST_USD = 10.0
#: Models matching these are treated as preview / experimental.
PREVIEW_MODEL_GLOBS: tuple[str, ...] = (
    "*preview*",
    "*experimental*",
    "*-exp",
    "*-exp-*",
    "*alpha*",
    "*beta*",
)
_PREVIEW = compile_globs(PREVIEW_MODEL_GLOBS)
_DATA_RANK: dict[str, int] = {name: rank for rank, name in enumerate(DATA_CLASSES)}
_TOP_DATA_RANK = len(DATA_CLASSES) - 1


class ModelTier(IntEnum):
    """How much is known about a model (higher is riskier)."""

    APPROVED = 0  # on every allow-list (or no model involved)
    UNLISTED = 1  # no allow-list applies: allowed only because nothing denies it
    PREVIEW = 2  # preview / experimental, or not allowed at all


MODEL_TIER_FACTOR = {ModelTier.APPROVED: 0.0, ModelTier.UNLISTED: 0.5, ModelTier.PREVIEW: 1.0}


def model_tier(model: str | None, *, allowed: bool, allow_listed: bool) -> ModelTier:
    """``allowed``: passes the policy; ``allow_listed``: some allow-list names it."""
    if not model:
        return ModelTier.APPROVED
    if not allowed or _PREVIEW.match(model) is not None:
        return ModelTier.PREVIEW
    return ModelTier.APPROVED if allow_listed else ModelTier.UNLISTED


def _clamp(value: float) -> float:
    return 0.0 if value <= 0.0 else 1.0 if value >= 1.0 else value


def risk_factors(
    *,
    autonomy_level: int,
    data_class: str,
    cost_ratio: float,
    model_tier: ModelTier,
    recent_violations: int,
) -> dict[str, float]:
    """Each factor normalised to [0, 1]."""
    violations = recent_violations if recent_violations > 0 else 0
    return {
        "autonomy": _clamp(autonomy_level / 4),
        "data_class": _DATA_RANK[data_class] / _TOP_DATA_RANK,
        "cost": _clamp(cost_ratio),
        "model": MODEL_TIER_FACTOR[model_tier],
        "violations": violations / (violations + VIOLATIONS_HALF),
    }


def risk_score(
    *,
    autonomy_level: int,
    data_class: str,
    cost_ratio: float,
    model_tier: ModelTier,
    recent_violations: int,
) -> float:
    """Risk of an agent action: weighted factors, clamped to [0, 1], rounded to 4 places.

    ``cost_ratio`` is the estimated cost over the smallest USD budget that applies
    (or over REFERENCE_COST_USD when none does).
    """
    factors = risk_factors(
        autonomy_level=autonomy_level,
        data_class=data_class,
        cost_ratio=cost_ratio,
        model_tier=model_tier,
        recent_violations=recent_violations,
    )
    return weighted_risk(factors)


#: The autonomy factor of each level (0..4).
AUTONOMY_FACTORS: tuple[float, ...] = tuple(_clamp(level / 4) for level in range(5))
#: The data-class factor of each rank.
DATA_CLASS_FACTORS: tuple[float, ...] = tuple(
    _DATA_RANK[name] / _TOP_DATA_RANK for name in DATA_CLASSES
)


_ROUNDED: LRUCache[float, float] = LRUCache(4096)
"""``round(score, 4)`` of the scores seen lately (most requests repeat a few)."""


def scored_factors(
    autonomy_level: int,
    data_rank: int,
    cost_ratio: float,
    model_factor: float,
    recent_violations: int,
) -> tuple[float, dict[str, float]]:
    """``weighted_risk(risk_factors(...))`` and the factors, in one go (the authorize hot path).

    ``data_rank`` indexes DATA_CLASSES; ``model_factor`` is MODEL_TIER_FACTOR of the tier.
    The arithmetic is the same, operation for operation, so the results are identical.
    """
    autonomy = AUTONOMY_FACTORS[autonomy_level]
    data_class = DATA_CLASS_FACTORS[data_rank]
    cost = 0.0 if cost_ratio <= 0.0 else 1.0 if cost_ratio >= 1.0 else cost_ratio
    violations = recent_violations if recent_violations > 0 else 0
    violations_factor = violations / (violations + VIOLATIONS_HALF)
    score = (
        AUTONOMY_WEIGHT * autonomy
        + DATA_CLASS_WEIGHT * data_class
        + COST_WEIGHT * cost
        + MODEL_WEIGHT * model_factor
        + VIOLATIONS_WEIGHT * violations_factor
    )
    clamped = 0.0 if score <= 0.0 else 1.0 if score >= 1.0 else score
    try:
        rounded = _ROUNDED[clamped]
    except KeyError:  # round(x, 4) converts to decimal: several times the cost of a hit
        rounded = _ROUNDED[clamped] = round(clamped, 4)
    return rounded, {
        "autonomy": autonomy,
        "data_class": data_class,
        "cost": cost,
        "model": model_factor,
        "violations": violations_factor,
    }


def weighted_risk(factors: dict[str, float]) -> float:
    """The score of factors from ``risk_factors``."""
    score = (
        AUTONOMY_WEIGHT * factors["autonomy"]
        + DATA_CLASS_WEIGHT * factors["data_class"]
        + COST_WEIGHT * factors["cost"]
        + MODEL_WEIGHT * factors["model"]
        + VIOLATIONS_WEIGHT * factors["violations"]
    )
    return round(_clamp(score), 4)


# Deployment plans ---------------------------------------------------------------------------

ENVIRONMENT_WEIGHT = 0.25
BLAST_RADIUS_WEIGHT = 0.20
FIRST_BATCH_WEIGHT = 0.15
CONFIG_CHANGES_WEIGHT = 0.10
CHANGE_KIND_WEIGHT = 0.15
FAILURE_RATE_WEIGHT = 0.15
#: Target agents at which the blast-radius factor reaches 0.5.
BLAST_RADIUS_HALF = 100
#: Config changes at which the config-changes factor reaches 0.5.
CONFIG_CHANGES_HALF = 10
ENVIRONMENT_RISK = {"production": 1.0, "prod": 1.0, "staging": 0.5, "stage": 0.5}
#: Environments not listed above (dev, test, preview ...).
OTHER_ENVIRONMENT_RISK = 0.2
CHANGE_KIND_RISK = {"model": 1.0, "prompt": 0.7, "code": 0.6, "config": 0.4}


def deployment_risk_score(
    *,
    environment: str,
    target_agents: int,
    batch_size: int,
    config_changes: int,
    change_kind: str,
    recent_change_failure_rate: float,
) -> float:
    """Risk of a deployment plan in [0, 1] (docs/policies.md#risk-score)."""
    targets = max(target_agents, 0)
    changes = max(config_changes, 0)
    first_batch = min(max(batch_size, 0), targets) / targets if targets else 0.0
    score = (
        ENVIRONMENT_WEIGHT * ENVIRONMENT_RISK.get(environment.lower(), OTHER_ENVIRONMENT_RISK)
        + BLAST_RADIUS_WEIGHT * targets / (targets + BLAST_RADIUS_HALF)
        + FIRST_BATCH_WEIGHT * first_batch
        + CONFIG_CHANGES_WEIGHT * changes / (changes + CONFIG_CHANGES_HALF)
        + CHANGE_KIND_WEIGHT * CHANGE_KIND_RISK.get(change_kind, 1.0)
        + FAILURE_RATE_WEIGHT * _clamp(recent_change_failure_rate)
    )
    return round(_clamp(score), 4)
