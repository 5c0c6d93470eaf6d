"""Label selectors: equality terms, all must hold."""

from __future__ import annotations

import pytest

from rollout_orchestrator.domain.selector import SelectorError, matches, parse_selector


def test_parses_terms() -> None:
    assert parse_selector("team=payments, tier=canary") == {"team": "payments", "tier": "canary"}
    assert parse_selector("") == {}
    assert parse_selector("team=a,team=a") == {"team": "a"}
    assert parse_selector("app.kubernetes.io/name=x,empty=") == {
        "app.kubernetes.io/name": "x",
        "empty": "",
    }


@pytest.mark.parametrize(
    "text",
    ["team", "team!=x", "team==x", "=x", "team=a,team=b", "te am=x", "team=a b", ",", "k=v," * 21],
)
def test_refuses_what_is_not_equality(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(text)


def test_matches_every_term() -> None:
    labels = {"team": "payments", "tier": "canary"}
    assert matches({}, labels)
    assert matches({"team": "payments"}, labels)
    assert not matches({"team": "payments", "tier": "main"}, labels)
    assert not matches({"region": "eu"}, labels)
