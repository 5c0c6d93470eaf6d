"""``POST /v1/authorize`` JSON in and out: the same contract as the pydantic models."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError

from policy_engine.domain.decisions.decision import (
    ApprovalRequirement,
    BudgetAlert,
    DecisionResult,
    Reason,
)
from policy_engine.evaluation.approvals import ApprovalTicket
from policy_engine.evaluation.rendering import (
    REQUEST_SCHEMA,
    parse_json_body,
    render_authorization,
)
from policy_engine.evaluation.schemas import AuthorizeRequest, AuthorizeResponse
from policy_engine.evaluation.service import Authorization

JSON = "application/json"
REASON = Reason(
    code="rule_denied",
    severity="high",
    effect="deny",
    message="no writes to prod",
    remediation="write to staging",
    docs_url="https://codevald.io/cortex/docs/policies#rule_denied",
    rule_id="r1",
    policy="acme",
    version=3,
    layer="agency",
    actual=7,
    limit=5.5,
    counterfactual="fewer rows",
)
RESULTS = {
    "allow": DecisionResult("allow", 0, risk_factors={"autonomy": 0, "cost": 0.25}),
    "deny": DecisionResult("deny", 0.9, (REASON, REASON._replace(code="model_denied"))),
    "approval": DecisionResult(
        "require_approval",
        0.5,
        (REASON._replace(effect="require_approval"),),
        approval=ApprovalRequirement(("lead", "sre"), 2, 3600, ("r1",)),
    ),
    "masked": DecisionResult(
        "allow",
        0.2,
        masked_entities=("email", "card"),
        mask_all=True,
        budget_alerts=(BudgetAlert("agent", "daily", "usd", 0.8, 7, 8.5, 10),),
    ),
    "not finite": DecisionResult("allow", math.inf, risk_factors={"cost": math.nan}),
}
TICKET = ApprovalTicket(
    id="5d1c2c3e-0b0e-4f51-9d6e-6b3f1d3b9a11",
    status="pending",
    input_hash="sha256:" + "ab" * 32,
    subject_id="action-" + "cd" * 16,
    expires_at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
)


@pytest.mark.parametrize("name", RESULTS)
def test_the_answer_is_what_the_response_model_renders(name: str) -> None:
    answer = Authorization(
        decision_id="01a2-id",
        result=RESULTS[name],
        masked_payload={"to": "[EMAIL]", "n": [1, 2.5, None]} if name == "masked" else None,
        policy_version="org:1+agency:3",
        evaluated_us=123.456,
        approval=TICKET if RESULTS[name].approval else None,
    )
    r = answer.result
    fields = {k: v for k, v in r.to_dict().items() if k != "mask_all"}
    if r.approval:  # the requirement and the approval request it made
        fields["approval"] = {**r.approval.to_dict(), **TICKET.to_dict()}
    expected = AuthorizeResponse(
        decision_id=answer.decision_id,
        masked_payload=answer.masked_payload,
        policy_version=answer.policy_version,
        evaluated_us=round(answer.evaluated_us, 1),
        **fields,
    ).model_dump_json()
    rendered = render_authorization(answer)
    assert json.loads(rendered) == json.loads(expected)
    assert list(json.loads(rendered)) == list(AuthorizeResponse.model_fields)


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def errors_of(raw: bytes, content_type: str | None = JSON) -> list[dict[str, Any]]:
    with pytest.raises(RequestValidationError) as caught:
        parse_json_body(AuthorizeRequest, raw, content_type)
    return [dict(e) for e in caught.value.errors()]


@pytest.mark.parametrize(
    "content_type", [JSON, "application/json; charset=utf-8", "application/vnd.cortex+json"]
)
def test_a_json_body_is_validated_by_the_request_model(content_type: str) -> None:
    raw = body({"agent_id": "a1", "action": {"type": "db.write", "autonomy_level": "L2"}})
    parsed = parse_json_body(AuthorizeRequest, raw, content_type)
    assert parsed == AuthorizeRequest.model_validate_json(raw)
    assert parsed.action.autonomy_level == 2


def test_field_errors_are_located_in_the_body() -> None:
    errors = errors_of(body({"agent_id": "", "action": {"type": "x", "autonomy_level": "L9"}}))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (("body", "agent_id"), "string_too_short"),
        (("body", "action", "autonomy_level"), "value_error"),
    ]


def test_unknown_fields_are_refused() -> None:
    errors = errors_of(body({"agent_id": "a", "action": {"type": "x"}, "surprise": 1}))
    assert [(e["loc"], e["type"]) for e in errors] == [(("body", "surprise"), "extra_forbidden")]


def test_malformed_json_is_a_validation_error() -> None:
    assert [e["type"] for e in errors_of(b'{"agent_id": ')] == ["json_invalid"]


def test_an_empty_body_is_a_missing_body() -> None:
    assert [(e["loc"], e["type"]) for e in errors_of(b"")] == [(("body",), "missing")]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/yaml"])
def test_a_body_that_is_not_declared_json_is_refused(content_type: str | None) -> None:
    raw = body({"agent_id": "a1", "action": {"type": "db.write"}})
    assert [e["type"] for e in errors_of(raw, content_type)] == ["content_type"]


def test_the_documented_request_schema_has_no_dangling_references() -> None:
    text = json.dumps(REQUEST_SCHEMA)
    assert "$ref" not in text
    assert "$defs" not in text
    assert REQUEST_SCHEMA["properties"]["action"]["required"] == ["type"]
