"""Every field of an authorize request that can carry data is scanned; what is kept is masked.

The values are public test data chosen without looking at the detectors: the Visa test card
number, an e-mail at example.org, an AWS access key id in the documented ``AKIA`` + 16 form.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy_engine.domain.decisions.evaluator import evaluate
from policy_engine.domain.decisions.inputs import AuthorizeInput, EvalContext
from policy_engine.evaluation.scanning import (
    MASKED_TEAM,
    RequestScan,
    answered_payload,
    scan_request,
    stored_fields,
    stored_payload,
    stored_request,
    stored_result,
)
from policy_engine.evaluation.schemas import AuthorizeRequest
from tests.unit.policy_engine.builders import NOW, compiled

CARD = "4111 1111 1111 1111"
CARD_DIGITS = "4111111111111111"
EMAIL = "jane.doe@example.org"
AWS_KEY = "AKIA4HSQ7UZLKXRM3N6B"
DENY_CARDS = {"pii": {"entities": {"CREDIT_CARD": "deny"}, "default": "mask"}}


def authorize_request(**fields: Any) -> AuthorizeRequest:
    action = {"type": "email.send", **fields.pop("action", {})}
    return AuthorizeRequest.model_validate({"agent_id": "agent-1", "action": action, **fields})


def scan(req: AuthorizeRequest) -> RequestScan:
    return scan_request(req, max_bytes=1_000_000, deadline_s=1.0)


# (request fields, the field the reasons name)
CARRIERS: list[tuple[dict[str, Any], str]] = [
    ({"agent_id": f"agent {CARD}"}, "agent_id"),
    ({"team": "4111-1111-1111-1111"}, "team"),
    ({"deployment_id": f"deploy for {CARD}"}, "deployment_id"),
    ({"action": {"type": f"charge {CARD}"}}, "action.type"),
    ({"action": {"resource": f"card {CARD}"}}, "action.resource"),
    ({"action": {"model": f"model {CARD}"}}, "action.model"),
    (
        {"action": {"destination": f"https://pay.example.com/?pan={CARD_DIGITS}"}},
        "action.destination",
    ),
    ({"action": {"labels": {"note": f"card {CARD}"}}}, "action.labels"),
    ({"action": {"labels": {CARD: "x"}}}, "action.labels"),
    ({"context": {"card": CARD}}, "context"),
    ({"context": {"order": {"items": [{"pan": CARD}]}}}, "context"),
    ({"context": {CARD: True}}, "context"),
    ({"context": {"card": int(CARD_DIGITS)}}, "context"),
    ({"payload": {"note": f"card {CARD}"}}, "payload"),
]


@pytest.mark.parametrize(("fields", "where"), CARRIERS)
def test_a_card_is_found_in_every_field_that_can_carry_data(
    fields: dict[str, Any], where: str
) -> None:
    found = scan(authorize_request(**fields))
    assert found.entities == {"CREDIT_CARD": 1}
    assert found.fields == {"CREDIT_CARD": (where,)}


@pytest.mark.parametrize(("fields", "where"), CARRIERS)
def test_a_card_in_any_field_is_denied_by_a_policy_denying_cards_naming_the_field(
    fields: dict[str, Any], where: str
) -> None:
    req = authorize_request(**fields)
    found = scan(req)
    ctx = EvalContext(now=NOW, pii_entities_found=found.entities, pii_fields=found.fields)
    result = evaluate(compiled(DENY_CARDS), _input(req), ctx)
    assert result.decision == "deny"
    (reason,) = [r for r in result.reasons if r.code == "pii_denied"]
    assert where in reason.message
    assert where in reason.remediation


@pytest.mark.parametrize(("fields", "where"), CARRIERS)
def test_nothing_raw_is_kept_of_any_field(fields: dict[str, Any], where: str) -> None:
    req = authorize_request(**fields)
    found = scan(req)
    kept = stored_request(req, found, stored_payload(req.payload, found.payload))
    text = json.dumps([kept, stored_fields(req, found).__repr__()])
    assert CARD not in text
    assert CARD_DIGITS not in text
    assert "4111-1111-1111-1111" not in text


def test_e_mails_and_keys_outside_the_payload_are_masked_where_they_are() -> None:
    req = authorize_request(
        action={"resource": f"mailbox/{EMAIL}", "labels": {"owner": EMAIL}},
        context={"aws": {"access_key_id": AWS_KEY}, "to": [EMAIL]},
    )
    found = scan(req)
    assert found.entities == {"EMAIL": 3, "SECRET": 1}
    kept = stored_request(req, found, None)
    assert kept["action"]["resource"] == "mailbox/[EMAIL]"
    assert kept["action"]["labels"] == {"owner": "[EMAIL]"}
    assert kept["context"] == {"aws": {"access_key_id": "[SECRET]"}, "to": ["[EMAIL]"]}
    assert stored_fields(req, found).resource == "mailbox/[EMAIL]"


def test_evaluation_reads_the_raw_fields_while_the_kept_request_is_masked() -> None:
    # a rule on the resource glob must see what the agent will touch
    policy = compiled(
        {
            "pii": {"default": "mask"},
            "rules": [
                {
                    "id": "no-vip-mailbox",
                    "match": {"actions": ["email.*"], "resources": [f"mailbox/{EMAIL}"]},
                    "effect": "deny",
                    "message": "not this mailbox",
                    "remediation": "use another",
                }
            ],
        }
    )
    req = authorize_request(action={"resource": f"mailbox/{EMAIL}"})
    found = scan(req)
    ctx = EvalContext(now=NOW, pii_entities_found=found.entities, pii_fields=found.fields)
    result = evaluate(policy, _input(req), ctx)
    assert "no-vip-mailbox" in {r.rule_id for r in result.reasons}
    assert EMAIL not in json.dumps(stored_request(req, found, None))


def test_a_clean_request_is_kept_as_sent() -> None:
    req = authorize_request(
        action={"resource": "orders/42", "labels": {"env": "prod"}}, context={"amount_usd": 9.5}
    )
    found = scan(req)
    assert (found.entities, found.strings, found.oversize) == ({}, (), False)
    expected = {**req.model_dump(mode="json", exclude={"payload"}), "payload": None}
    assert stored_request(req, found, None) == expected


def test_a_team_slug_carrying_pii_is_kept_as_a_placeholder_slug() -> None:
    req = authorize_request(team="4111-1111-1111-1111")
    kept = stored_request(req, scan(req), None)
    assert kept["team"] == MASKED_TEAM
    AuthorizeRequest.model_validate(kept)  # replayable by simulation


def test_a_kept_request_stays_valid_when_masks_are_longer_than_the_values() -> None:
    ips = " ".join(["10.0.0.1"] * 111)  # 998 characters; each mask is longer than an address
    req = authorize_request(action={"resource": ips})
    kept = stored_request(req, scan(req), None)
    assert "10.0.0.1" not in kept["action"]["resource"]
    AuthorizeRequest.model_validate(kept)


def test_a_context_too_deep_to_scan_is_oversize_and_kept_fully_masked() -> None:
    deep: Any = CARD
    for _ in range(200):
        deep = [deep]
    req = authorize_request(context={"deep": deep})
    found = scan(req)
    assert found.oversize_fields == ("context",)
    policy = compiled({"pii": {"on_oversize": "deny"}})
    ctx = EvalContext(
        now=NOW, payload_oversize=found.oversize, oversize_fields=found.oversize_fields
    )
    result = evaluate(policy, _input(req), ctx)
    assert result.decision == "deny"
    assert "context" in result.reasons[0].message
    assert CARD not in json.dumps(stored_request(req, found, None))


def test_a_denied_payload_is_answered_with_every_entity_masked() -> None:
    payload = {"card": CARD, "to": EMAIL, "aws_key": AWS_KEY}
    req = authorize_request(payload=payload)
    found = scan(req)
    ctx = EvalContext(now=NOW, pii_entities_found=found.entities, pii_fields=found.fields)
    result = evaluate(compiled(DENY_CARDS), _input(req), ctx)
    assert result.decision == "deny"
    answered = json.dumps(answered_payload(req.payload, found.payload, result))
    for raw in (CARD, EMAIL, AWS_KEY):
        assert raw not in answered


def test_reasons_quoting_a_field_are_kept_with_the_value_masked() -> None:
    policy = compiled({"models": {"allow": ["gpt-4o*"]}, "pii": {"default": "mask"}})
    req = authorize_request(action={"model": f"gpt-{EMAIL}"})
    found = scan(req)
    ctx = EvalContext(now=NOW, pii_entities_found=found.entities, pii_fields=found.fields)
    result = evaluate(policy, _input(req), ctx)
    assert EMAIL in json.dumps([r.to_dict() for r in result.reasons])  # the caller's own answer
    kept = stored_result(req, found, result)
    assert EMAIL not in json.dumps([r.to_dict() for r in kept.reasons])
    assert [r.code for r in kept.reasons] == [r.code for r in result.reasons]


def _input(req: AuthorizeRequest) -> AuthorizeInput:
    a = req.action
    return AuthorizeInput(
        agency="acme",
        agent_id=req.agent_id,
        action_type=a.type,
        resource=a.resource,
        team=req.team,
        labels=a.labels,
        model=a.model,
        destination=a.destination,
        deployment_id=req.deployment_id,
        extra=req.context,
    )
