"""The consumers' decoders: typed messages from bytes, dead letters for what can never work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cortex_contracts import (
    ApprovalDecided,
    ApprovalOutcome,
    PolicyViolation,
    SubjectKind,
    encode,
    pack,
)
from cortex_kit.messaging.handlers import Undecodable
from rollout_orchestrator.deployments.consumers import decided, violated

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def wire(payload: object) -> bytes:
    return encode(pack(payload, agency="acme", source="test", occurred_at=AT))  # type: ignore[arg-type]


def test_a_deployment_decision_is_decoded_with_its_outcome() -> None:
    message = decided(
        wire(
            ApprovalDecided(
                approval_id="ap-1",
                agency="acme",
                outcome=ApprovalOutcome.APPROVAL_OUTCOME_REJECTED,
                decided_by=["ann"],
                subject_kind=SubjectKind.SUBJECT_KIND_DEPLOYMENT,
                subject_id="run-1",
                reason="not now",
            )
        )
    )
    assert message.outcome is not None
    assert (message.outcome.agency, message.outcome.deployment_id) == ("acme", "run-1")
    assert (message.outcome.outcome, message.outcome.reason) == ("rejected", "not now")
    assert message.outcome.decided_at == AT  # no decided_at: the envelope's time


def test_a_decision_about_something_else_is_ignored() -> None:
    other = ApprovalDecided(
        approval_id="ap-1",
        outcome=ApprovalOutcome.APPROVAL_OUTCOME_GRANTED,
        subject_kind=SubjectKind.SUBJECT_KIND_ACTION,
        subject_id="x",
    )
    assert decided(wire(other)).outcome is None


def test_garbage_and_decisions_without_an_outcome_are_dead_lettered() -> None:
    with pytest.raises(Undecodable):
        decided(b"not protobuf")
    no_outcome = ApprovalDecided(
        approval_id="ap-1", subject_kind=SubjectKind.SUBJECT_KIND_DEPLOYMENT, subject_id="run-1"
    )
    with pytest.raises(Undecodable):
        decided(wire(no_outcome))


def test_a_violation_names_the_agent_rule_and_time() -> None:
    message = violated(
        wire(PolicyViolation(agency="acme", agent_id="bot-1", rule_id="pii.ssn", message="m"))
    )
    v = message.violation
    assert (v.agency, v.agent_id, v.rule_id, v.deployment_id, v.at) == (
        "acme",
        "bot-1",
        "pii.ssn",
        None,
        AT,
    )
    with pytest.raises(Undecodable):
        violated(wire(PolicyViolation(agency="acme", rule_id="r")))
