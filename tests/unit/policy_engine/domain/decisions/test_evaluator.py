from tests.unit.policy_engine.builders import codes, compiled, context, decide, single

# models ---------------------------------------------------------------------------------


def test_allow_listed_model_is_allowed() -> None:
    policy = compiled({"models": {"allow": ["gpt-4o*", "claude-*"]}})
    assert decide(policy, model="gpt-4o-mini").decision == "allow"


def test_model_off_the_allow_list_is_denied_with_the_alternatives() -> None:
    reason = single(
        decide(compiled({"models": {"allow": ["gpt-4o*", "claude-*"]}}), model="llama-3"),
        "model_not_allowed",
    )
    assert reason.counterfactual == "use one of: gpt-4o*, claude-*"
    assert (reason.rule_id, reason.layer, reason.version, reason.actual) == (
        "models.allow",
        "org",
        1,
        "llama-3",
    )


def test_denied_model_is_denied_even_when_allow_listed() -> None:
    policy = compiled({"models": {"allow": ["gpt-*"], "deny": ["*-preview"]}})
    result = decide(policy, model="gpt-5-preview")
    assert result.decision == "deny"
    reason = single(result, "model_denied")
    assert reason.rule_id == 'models.deny["*-preview"]'
    assert "not matching '*-preview'" in (reason.counterfactual or "")


def test_every_layer_allow_list_applies() -> None:
    policy = compiled({"models": {"allow": ["gpt-*"]}}, {"models": {"allow": ["gpt-4o*"]}})
    assert [r.layer for r in decide(policy, model="llama-3").reasons] == ["org", "agency"]
    assert [r.layer for r in decide(policy, model="gpt-3.5").reasons] == ["agency"]
    assert decide(policy, model="gpt-4o").decision == "allow"


def test_empty_allow_list_denies_every_model_but_not_model_free_actions() -> None:
    policy = compiled({"models": {"allow": []}})
    assert decide(policy, model="gpt-4o").decision == "deny"
    assert decide(policy).decision == "allow"


# autonomy -------------------------------------------------------------------------------


def test_autonomy_within_ceiling_is_allowed() -> None:
    assert decide(compiled({"autonomy": {"ceiling": "L2"}}), autonomy_level=2).decision == "allow"


def test_autonomy_above_ceiling_is_denied_with_the_level_needed() -> None:
    reason = single(
        decide(compiled({"autonomy": {"ceiling": "L2"}}), autonomy_level=3),
        "autonomy_above_ceiling",
    )
    assert (reason.actual, reason.limit, reason.counterfactual) == (
        "L3",
        "L2",
        "needs autonomy ≤ L2",
    )


def test_every_matching_action_ceiling_applies() -> None:
    policy = compiled(
        {"autonomy": {"ceiling": "L3", "actions": {"db.*": "L2", "db.write": "L1", "fs.*": "L0"}}}
    )
    result = decide(policy, action_type="db.write", autonomy_level=3)
    assert [(r.rule_id, r.limit) for r in result.reasons] == [
        ('autonomy.actions["db.*"]', "L2"),
        ('autonomy.actions["db.write"]', "L1"),
    ]
    assert decide(policy, action_type="db.read", autonomy_level=2).decision == "allow"


# data classification ------------------------------------------------------------------------


def test_data_class_limits_per_action_model_and_destination() -> None:
    policy = compiled(
        {
            "data": {
                "max_class": "confidential",
                "actions": {"email.*": "internal"},
                "models": {"llama-*": "public"},
                "destinations": {"https://*": "internal"},
            }
        }
    )
    allowed = decide(policy, action_type="db.read", data_class="confidential", model="gpt-4o")
    assert allowed.decision == "allow"
    result = decide(
        policy,
        action_type="email.send",
        data_class="confidential",
        model="llama-3",
        destination="https://example.com",
    )
    assert [r.rule_id for r in result.reasons] == [
        'data.actions["email.*"]',
        'data.models["llama-*"]',
        'data.destinations["https://*"]',
    ]
    assert decide(policy, data_class="restricted").reasons[0].rule_id == "data.max_class"
    models = result.reasons[1]
    assert (models.actual, models.limit, models.counterfactual) == (
        "confidential",
        "public",
        "reduce the data class to ≤ public",
    )


def test_public_data_passes_every_data_limit() -> None:
    policy = compiled({"data": {"max_class": "public", "destinations": {"*": "public"}}})
    assert decide(policy, destination="https://x", data_class="public").decision == "allow"


# PII ------------------------------------------------------------------------------------------


def test_pii_allow_mask_and_deny_per_entity() -> None:
    policy = compiled(
        {"pii": {"entities": {"EMAIL": "mask", "IP_ADDRESS": "allow", "IBAN": "deny"}}}
    )
    masked = decide(policy, context(pii_entities_found={"EMAIL": 2, "IP_ADDRESS": 1}))
    assert masked.decision == "allow"
    assert masked.masked_entities == ("EMAIL",)
    assert codes(masked) == ["pii_masked"]
    denied = decide(policy, context(pii_entities_found={"IBAN": 1, "EMAIL": 1}))
    assert denied.decision == "deny"
    assert codes(denied) == ["pii_masked", "pii_denied"]
    assert single(denied, "pii_denied").counterfactual == "remove the 1 IBAN value(s)"


def test_unlisted_pii_entities_follow_the_default() -> None:
    assert (
        decide(
            compiled({"pii": {"default": "deny"}}), context(pii_entities_found={"PHONE": 1})
        ).decision
        == "deny"
    )
    builtin = decide(compiled({}), context(pii_entities_found={"PHONE": 1}))
    assert builtin.masked_entities == ("PHONE",)


def test_oversize_payload_is_denied_or_fully_masked() -> None:
    denied = decide(
        compiled({"pii": {"max_payload_bytes": 1000}}),
        context(payload_oversize=True, payload_bytes=5000),
    )
    reason = single(denied, "payload_too_large")
    assert (reason.actual, reason.limit) == (5000, 1000)
    assert reason.counterfactual == "reduce the payload to ≤ 1000 bytes"
    masked = decide(compiled({"pii": {"on_oversize": "mask_all"}}), context(payload_oversize=True))
    assert masked.decision == "allow"
    assert masked.mask_all
    assert "SECRET" in masked.masked_entities


# budgets ----------------------------------------------------------------------------------------

BUDGETS = {
    "budgets": {"agent": {"daily": {"usd": 10, "tokens": 1000}}, "alert_thresholds": [0.5, 0.8]}
}


def test_request_within_budget_is_allowed() -> None:
    result = decide(
        compiled(BUDGETS), context(budget={"agent_daily_usd": 1.0}), estimated_cost_usd=2.0
    )
    assert result.decision == "allow"
    assert result.reasons == ()


def test_hard_budget_limit_denies_with_the_cost_that_would_fit() -> None:
    result = decide(
        compiled(BUDGETS),
        context(budget={"agent_daily_usd": 6.8}),
        estimated_cost_usd=4.0,
    )
    reason = single(result, "budget_exceeded")
    assert (reason.rule_id, reason.actual, reason.limit) == ("budgets.agent.daily.usd", 10.8, 10.0)
    assert reason.counterfactual == "reduce cost to ≤ $3.20"


def test_exhausted_budget_says_when_it_resets() -> None:
    result = decide(
        compiled({"budgets": {"agency": {"monthly": {"tokens": 500}}}}),
        context(budget={"agency_monthly_tokens": 500}),
        estimated_tokens=1,
    )
    assert single(result, "budget_exceeded").counterfactual == (
        "wait until the monthly budget resets at 2026-04-01T00:00:00Z"
    )


def test_crossing_a_soft_threshold_warns_and_raises_an_alert() -> None:
    result = decide(
        compiled(BUDGETS),
        context(budget={"agent_daily_usd": 4.0, "agent_daily_tokens": 100}),
        estimated_cost_usd=4.5,
        estimated_tokens=10,
    )
    assert result.decision == "allow"
    reason = single(result, "budget_threshold_crossed")
    assert (reason.severity, reason.effect) == ("warning", "alert")
    assert reason.message.startswith("the agent daily usd budget passes 80%")
    # 4.0 → 8.5 of 10 crosses both thresholds: one alert each
    assert [(a.scope, a.period, a.unit, a.threshold) for a in result.budget_alerts] == [
        ("agent", "daily", "usd", 0.5),
        ("agent", "daily", "usd", 0.8),
    ]
    assert {(a.used_before, a.used_after, a.limit) for a in result.budget_alerts} == {
        (4.0, 8.5, 10.0)
    }


def test_no_alert_once_above_the_threshold_or_when_denied() -> None:
    above = decide(
        compiled(BUDGETS), context(budget={"agent_daily_usd": 8.5}), estimated_cost_usd=0.5
    )
    assert above.budget_alerts == ()
    denied = decide(
        compiled({**BUDGETS, "autonomy": {"ceiling": "L0"}}),
        context(budget={"agent_daily_usd": 4.0}),
        estimated_cost_usd=4.5,
        autonomy_level=1,
    )
    assert denied.decision == "deny"
    assert denied.budget_alerts == ()
