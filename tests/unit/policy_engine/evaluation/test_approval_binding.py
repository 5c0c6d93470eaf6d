"""Approvals of agent actions in the engine: the input hash, and what a re-authorization with
``approval_id`` answers for each answer of the approval workflow (a fake of our own client
protocol, ``ApprovalUses``; the HTTP client and the workflow are integration-tested)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policy_engine.domain.decisions.decision import ApprovalRequirement, DecisionResult, Reason
from policy_engine.evaluation.approvals import (
    ApprovalUnverifiable,
    UseAnswer,
    action_input_hash,
    action_subject_id,
)
from policy_engine.evaluation.schemas import AuthorizeRequest
from policy_engine.evaluation.service import Authorizer, bind_approval

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
BASE: dict[str, Any] = {
    "agent_id": "agent-7",
    "team": "payments",
    "action": {"type": "payment.refund", "resource": "order/42", "labels": {"a": "1", "b": "2"}},
    "payload": {"amount": 120, "currency": "EUR", "lines": [{"sku": "x", "qty": 1}]},
    "context": {"ticket": "T-1", "nested": {"k": [1, 2]}},
}
APPROVAL_REASON = Reason(
    code="approval_required",
    severity="medium",
    effect="require_approval",
    message="refunds need a human",
    remediation="wait for approval",
    docs_url="https://codevald.io/cortex/docs/policies#approval_required",
    rule_id="payments.refunds",
)
MASK_REASON = APPROVAL_REASON._replace(code="pii_masked", effect="mask", severity="low")
REQUIRED = DecisionResult(
    "require_approval",
    0.4,
    (APPROVAL_REASON, MASK_REASON),
    approval=ApprovalRequirement(("finance",), 2, 3600, ("payments.refunds",)),
)


def req(**changes: Any) -> AuthorizeRequest:
    return AuthorizeRequest.model_validate({**BASE, **changes})


# ------------------------------------------------------------------------------ input hash


def test_the_input_hash_is_sha256_of_the_canonical_input() -> None:
    h = action_input_hash(req())
    assert h.startswith("sha256:")
    assert len(h) == len("sha256:") + 64
    assert action_input_hash(req()) == h


def test_the_input_hash_does_not_depend_on_key_order() -> None:
    shuffled = {
        "context": {"nested": {"k": [1, 2]}, "ticket": "T-1"},
        "payload": {"lines": [{"qty": 1, "sku": "x"}], "currency": "EUR", "amount": 120},
        "action": {
            "labels": {"b": "2", "a": "1"},
            "resource": "order/42",
            "type": "payment.refund",
        },
        "team": "payments",
        "agent_id": "agent-7",
    }
    assert action_input_hash(AuthorizeRequest.model_validate(shuffled)) == action_input_hash(req())


def test_the_approval_id_is_not_part_of_the_input() -> None:
    assert action_input_hash(req(approval_id="a-1")) == action_input_hash(req())


@pytest.mark.parametrize(
    "changes",
    [
        {"agent_id": "agent-8"},
        {"team": "other"},
        {"action": {**BASE["action"], "type": "payment.capture"}},
        {"action": {**BASE["action"], "resource": "order/43"}},
        {"action": {**BASE["action"], "labels": {"a": "1"}}},
        {"action": {**BASE["action"], "model": "gpt-4o"}},
        {"action": {**BASE["action"], "destination": "bank"}},
        {"action": {**BASE["action"], "estimated_cost_usd": 0.5}},
        {"payload": {**BASE["payload"], "amount": 121}},
        {"payload": [BASE["payload"]]},
        {"payload": None},
        {"context": {**BASE["context"], "ticket": "T-2"}},
        {"context": {}},
        {"deployment_id": "dep-1"},
    ],
    ids=lambda c: ",".join(c),
)
def test_any_change_of_the_input_changes_the_hash(changes: dict[str, Any]) -> None:
    assert action_input_hash(req(**changes)) != action_input_hash(req())


def test_the_subject_is_agent_action_and_resource_only() -> None:
    same = action_subject_id("agent-7", "payment.refund", "order/42")
    assert same == action_subject_id("agent-7", "payment.refund", "order/42")
    assert same != action_subject_id("agent-8", "payment.refund", "order/42")
    assert same != action_subject_id("agent-7", "payment.capture", "order/42")
    assert same != action_subject_id("agent-7", "payment.refund", "order/43")
    # Separated, not concatenated: ("ab", "c") is not ("a", "bc").
    assert action_subject_id("a", "bc", "") != action_subject_id("ab", "c", "")


# ------------------------------------------------------------------------------ binding


class FakeUses:
    """Answers every use with ``answer`` (or raises), and remembers what it was asked."""

    def __init__(self, answer: UseAnswer | Exception) -> None:
        self.answer = answer
        self.asked: list[dict[str, str]] = []

    async def use(
        self, agency: str, approval_id: str, *, input_hash: str, agent_id: str, decision_id: str
    ) -> UseAnswer:
        self.asked.append(
            {
                "agency": agency,
                "approval_id": approval_id,
                "input_hash": input_hash,
                "agent_id": agent_id,
                "decision_id": decision_id,
            }
        )
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def authorizer(uses: FakeUses | None) -> Authorizer:
    # Only ``approvals`` is read by the binding; the rest is never touched.
    return Authorizer(None, None, None, None, approvals=uses)  # type: ignore[arg-type]


async def test_without_approval_id_a_new_pending_request_is_made() -> None:
    uses = FakeUses(UseAnswer(granted=True))
    bound = await bind_approval(authorizer(uses), "acme", req(), REQUIRED, "d-1", NOW)
    assert bound.new_request
    assert uses.asked == []
    assert bound.result == REQUIRED
    t = bound.ticket
    assert t.status == "pending"
    assert t.input_hash == action_input_hash(req())
    assert t.subject_id == action_subject_id("agent-7", "payment.refund", "order/42")
    assert t.expires_at is not None
    assert (t.expires_at - NOW).total_seconds() == 3600
    assert t.to_dict()["status_url"] == f"/v1/approvals/{t.id}"


async def test_a_require_approval_without_a_requirement_gets_the_default_one() -> None:
    bare = REQUIRED._replace(approval=None)
    bound = await bind_approval(authorizer(None), "acme", req(), bare, "d-1", NOW)
    assert bound.result.approval is not None
    assert bound.result.approval.roles == ("approver",)
    assert bound.result.approval.quorum == 1
    assert bound.ticket.expires_at is not None
    assert (bound.ticket.expires_at - NOW).total_seconds() == 86_400


async def test_a_granted_use_allows_naming_the_approval_and_its_approvers() -> None:
    uses = FakeUses(UseAnswer(granted=True, approvers=("alice", "bob")))
    bound = await bind_approval(
        authorizer(uses), "acme", req(approval_id="ap-1"), REQUIRED, "d-1", NOW
    )
    assert uses.asked == [
        {
            "agency": "acme",
            "approval_id": "ap-1",
            "input_hash": action_input_hash(req()),
            "agent_id": "agent-7",
            "decision_id": "d-1",
        }
    ]
    r = bound.result
    assert r.decision == "allow"
    assert not bound.new_request
    first = r.reasons[0]
    assert (first.code, first.effect) == ("approved", "allow")
    assert "alice" in first.message
    assert "bob" in first.message
    assert "ap-1" in first.message
    assert [x.code for x in r.reasons] == ["approved", "pii_masked"]  # masking still applies
    assert not r.violations
    assert bound.ticket.status == "granted"
    assert bound.ticket.approvers == ("alice", "bob")


def refusal(code: str, **fields: Any) -> UseAnswer:
    return UseAnswer(
        granted=False, code=code, detail=f"{code} detail", remediation="do x", **fields
    )


@pytest.mark.parametrize(
    ("answer", "new_request", "status"),
    [
        (refusal("approval_input_mismatch"), True, "pending"),
        (refusal("approval_agent_mismatch"), True, "pending"),
        (refusal("approval_expired"), True, "pending"),
        (refusal("approval_used"), True, "pending"),
        (refusal("approval_not_found"), True, "pending"),
        (refusal("approval_not_granted", approval_status="pending"), False, "pending"),
        (refusal("approval_not_granted", approval_status="rejected"), False, "rejected"),
        (refusal("approval_superseded", superseded_by="ap-2"), False, "superseded"),
    ],
    ids=lambda v: (
        v.code + (f"-{v.approval_status}" if v.approval_status else "")
        if isinstance(v, UseAnswer)
        else str(v)
    ),
)
async def test_a_refused_use_requires_approval_again_with_why(
    answer: UseAnswer, new_request: bool, status: str
) -> None:
    bound = await bind_approval(
        authorizer(FakeUses(answer)), "acme", req(approval_id="ap-1"), REQUIRED, "d-1", NOW
    )
    r = bound.result
    assert r.decision == "require_approval"
    first = r.reasons[0]
    assert (first.code, first.effect) == (answer.code, "require_approval")
    assert "ap-1" in first.message
    assert answer.detail in first.message
    assert r.reasons[1:] == REQUIRED.reasons  # why approval is needed, as before
    assert bound.new_request is new_request
    assert bound.ticket.status == status
    if new_request:
        assert bound.ticket.id != "ap-1"
        assert bound.ticket.id in first.remediation
    else:
        assert bound.ticket.id == "ap-1"


@pytest.mark.parametrize("uses", [FakeUses(ApprovalUnverifiable("connect refused")), None])
async def test_an_unreachable_workflow_fails_closed(uses: FakeUses | None) -> None:
    bound = await bind_approval(
        authorizer(uses), "acme", req(approval_id="ap-1"), REQUIRED, "d-1", NOW
    )
    assert bound.result.decision == "require_approval"
    first = bound.result.reasons[0]
    assert first.code == "approval_unverifiable"
    assert first.remediation.startswith("Retry")
    assert not bound.new_request
    assert bound.ticket.id == "ap-1"
    assert bound.ticket.status == "unknown"
