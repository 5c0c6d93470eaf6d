import pytest

from policy_engine.domain.decisions.evaluator import evaluate
from policy_engine.domain.decisions.risk import (
    AUTONOMY_WEIGHT,
    COST_WEIGHT,
    DATA_CLASS_WEIGHT,
    MODEL_WEIGHT,
    VIOLATIONS_WEIGHT,
    ModelTier,
    deployment_risk_score,
    model_tier,
    risk_score,
)
from policy_engine.domain.document.schema import DATA_CLASSES
from tests.unit.policy_engine.builders import compiled, context, request

BASE = {
    "autonomy_level": 1,
    "data_class": "internal",
    "cost_ratio": 0.2,
    "model_tier": ModelTier.APPROVED,
    "recent_violations": 1,
}


def test_weights_add_up_to_one() -> None:
    total = AUTONOMY_WEIGHT + DATA_CLASS_WEIGHT + COST_WEIGHT + MODEL_WEIGHT + VIOLATIONS_WEIGHT
    assert total == pytest.approx(1.0)


def test_extremes_are_zero_and_one() -> None:
    assert (
        risk_score(
            autonomy_level=0,
            data_class="public",
            cost_ratio=0,
            model_tier=ModelTier.APPROVED,
            recent_violations=0,
        )
        == 0.0
    )
    assert risk_score(
        autonomy_level=4,
        data_class="restricted",
        cost_ratio=50,
        model_tier=ModelTier.PREVIEW,
        recent_violations=10**9,
    ) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("factor", "values"),
    [
        ("autonomy_level", [0, 1, 2, 3, 4]),
        ("data_class", list(DATA_CLASSES)),
        ("cost_ratio", [0.0, 0.1, 0.5, 1.0, 3.0]),
        ("model_tier", [ModelTier.APPROVED, ModelTier.UNLISTED, ModelTier.PREVIEW]),
        ("recent_violations", [0, 1, 2, 5, 50]),
    ],
)
def test_risk_grows_with_each_factor(factor: str, values: list[object]) -> None:
    scores = [risk_score(**{**BASE, factor: value}) for value in values]  # type: ignore[arg-type]
    assert scores == sorted(scores)
    assert scores[0] < scores[-1]


def test_model_tiers() -> None:
    assert model_tier(None, allowed=True, allow_listed=True) is ModelTier.APPROVED
    assert model_tier("gpt-4o", allowed=True, allow_listed=True) is ModelTier.APPROVED
    assert model_tier("gpt-4o", allowed=True, allow_listed=False) is ModelTier.UNLISTED
    assert model_tier("gemini-2-flash-exp", allowed=True, allow_listed=True) is ModelTier.PREVIEW
    assert model_tier("gpt-4o", allowed=False, allow_listed=True) is ModelTier.PREVIEW


def test_decisions_explain_their_risk_factors() -> None:
    policy = compiled({"budgets": {"agent": {"daily": {"usd": 10}}}})
    result = evaluate(
        policy,
        request(autonomy_level=2, estimated_cost_usd=5.0, data_class="confidential"),
        context(),
    )
    assert result.risk_factors["autonomy"] == 0.5
    assert result.risk_factors["cost"] == 0.5
    assert result.risk_factors["data_class"] == pytest.approx(2 / 3)
    assert 0 < result.risk_score < 1


def test_deployment_risk_is_bounded_and_grows_with_exposure() -> None:
    small = deployment_risk_score(
        environment="dev",
        target_agents=5,
        batch_size=1,
        config_changes=1,
        change_kind="config",
        recent_change_failure_rate=0.0,
    )
    large = deployment_risk_score(
        environment="production",
        target_agents=5000,
        batch_size=5000,
        config_changes=200,
        change_kind="model",
        recent_change_failure_rate=1.0,
    )
    assert 0.0 <= small < large <= 1.0
