"""The approval rules (approval_workflow.domain.rules), pure, on a controllable clock."""

from __future__ import annotations

from approval_workflow.domain.model import Approval
from approval_workflow.domain.rules import (
    Decided,
    Refused,
    decidable_by,
    decide,
    fire,
    outcome,
    supersede,
)
from tests.unit.approval_workflow.builders import approval, at, who


def accepted(result: Decided | Refused) -> Approval:
    assert isinstance(result, Decided), result
    return result.approval


def refusal(result: Decided | Refused) -> str:
    assert isinstance(result, Refused), result
    return result.reason


def test_one_approval_grants_a_quorum_of_one() -> None:
    result = decide(approval(), who("ana", "sre"), "approve", "ok", at(10))
    assert isinstance(result, Decided)
    assert result.closed
    assert result.approval.status == "granted"
    assert result.approval.decided_at == at(10)
    assert result.approval.queue_seconds() == 10.0


def test_quorum_counts_distinct_approvers() -> None:
    a = approval(quorum=2)
    a = accepted(decide(a, who("ana", "sre"), "approve", "", at(1)))
    assert a.status == "pending"
    again = decide(a, who("ana", "sre"), "approve", "", at(2))
    assert isinstance(again, Decided)
    assert again.repeated
    assert again.approval.status == "pending"  # the same approver twice is one approver
    assert accepted(decide(a, who("bo", "sre"), "approve", "", at(3))).status == "granted"


def test_every_required_role_must_be_covered() -> None:
    a = approval(roles=("sre", "security"), quorum=2)
    a = accepted(decide(a, who("ana", "sre"), "approve", "", at(1)))
    a = accepted(decide(a, who("bo", "sre"), "approve", "", at(2)))
    assert a.status == "pending"  # quorum met, security not covered
    a = accepted(decide(a, who("cy", "security"), "approve", "", at(3)))
    assert a.status == "granted"


def test_one_approver_may_cover_two_roles() -> None:
    a = approval(roles=("sre", "security"), quorum=1)
    assert accepted(decide(a, who("ana", "sre", "security"), "approve", "", at(1))).status == (
        "granted"
    )


def test_a_decider_without_a_required_role_is_refused() -> None:
    assert refusal(decide(approval(), who("ana", "dev"), "approve", "", at(1))) == "role_missing"
    assert refusal(decide(approval(), who("ana", "dev"), "reject", "", at(1))) == "role_missing"


def test_the_requester_never_approves_its_own_request() -> None:
    result = decide(approval(requester="ana"), who("ana", "sre"), "approve", "", at(1))
    assert refusal(result) == "self_approval"


def test_the_requester_may_withdraw_by_rejecting() -> None:
    result = decide(approval(requester="ana"), who("ana", "sre"), "reject", "", at(1))
    assert accepted(result).status == "rejected"


def test_team_separation_refuses_the_requesters_team_and_unknown_teams() -> None:
    a = approval(separation="team", requester_team="payments")
    same = decide(a, who("ana", "sre", team="payments"), "approve", "", at(1))
    assert refusal(same) == "same_team"
    unknown = decide(a, who("ana", "sre", team=None), "approve", "", at(1))
    assert refusal(unknown) == "same_team"
    other = decide(a, who("ana", "sre", team="platform"), "approve", "", at(1))
    assert accepted(other).status == "granted"


def test_requester_separation_lets_a_teammate_approve() -> None:
    a = approval(separation="requester", requester_team="payments")
    teammate = decide(a, who("ana", "sre", team="payments"), "approve", "", at(1))
    assert accepted(teammate).status == "granted"


def test_any_rejection_rejects() -> None:
    a = approval(quorum=3)
    a = accepted(decide(a, who("ana", "sre"), "approve", "", at(1)))
    a = accepted(decide(a, who("bo", "sre"), "reject", "too risky", at(2)))
    assert a.status == "rejected"
    assert a.decided_at == at(2)


def test_one_decision_per_approver_the_other_is_refused_with_the_first() -> None:
    a = accepted(decide(approval(quorum=2), who("ana", "sre"), "approve", "", at(1)))
    result = decide(a, who("ana", "sre"), "reject", "", at(2))
    assert isinstance(result, Refused)
    assert result.reason == "already_decided"
    assert result.existing is not None
    assert result.existing.decision == "approve"


def test_a_terminal_request_takes_no_new_decision() -> None:
    granted = accepted(decide(approval(), who("ana", "sre"), "approve", "", at(1)))
    assert refusal(decide(granted, who("bo", "sre"), "approve", "", at(2))) == "granted"
    repeat = decide(granted, who("ana", "sre"), "approve", "", at(3))
    assert isinstance(repeat, Decided)
    assert repeat.repeated  # the decider that granted it hears the same answer again
    assert repeat.approval == granted


def test_a_decision_after_the_expiry_is_refused_even_before_the_timer_fired() -> None:
    a = approval(expires_in=60)
    assert refusal(decide(a, who("ana", "sre"), "approve", "", at(60))) == "expired"


def test_expiry_fails_closed_at_its_time_and_only_then() -> None:
    a = approval(expires_in=60)
    assert fire(a, "expire", at(59.9)) is None
    expired = fire(a, "expire", at(60))
    assert expired is not None
    assert expired.status == "expired"
    assert outcome(expired.requirement, expired.votes) == "pending"  # no votes: never granted
    assert fire(expired, "expire", at(61)) is None  # once


def test_default_expiry_is_a_day() -> None:
    from approval_workflow.domain.model import DEFAULT_EXPIRY

    assert DEFAULT_EXPIRY.total_seconds() == 86_400


def test_escalation_fires_once_after_its_delay() -> None:
    a = approval(escalate_after=600)
    assert fire(a, "escalate", at(599)) is None
    escalated = fire(a, "escalate", at(600))
    assert escalated is not None
    assert escalated.escalated_at == at(600)
    assert escalated.status == "pending"
    assert fire(escalated, "escalate", at(700)) is None


def test_a_terminal_request_does_not_escalate() -> None:
    a = approval(escalate_after=600)
    granted = accepted(decide(a, who("ana", "sre"), "approve", "", at(1)))
    assert fire(granted, "escalate", at(600)) is None
    assert fire(approval(), "escalate", at(10**6)) is None  # no escalation asked


def test_a_newer_request_supersedes_the_older_pending_one() -> None:
    old = approval(id="apr-1", requested_at=0)
    new = approval(id="apr-2", requested_at=5)
    result = supersede(new, [old], at(5))
    assert result.new == new
    [ended] = result.superseded
    assert ended.status == "superseded"
    assert ended.superseded_by == "apr-2"
    assert ended.decided_at == at(5)


def test_a_late_older_request_is_superseded_at_once_by_the_newest() -> None:
    newest = approval(id="apr-2", requested_at=5)
    late = approval(id="apr-1", requested_at=0)
    result = supersede(late, [newest], at(9))
    assert result.superseded == ()
    assert result.new.status == "superseded"
    assert result.new.superseded_by == "apr-2"


def test_supersession_leaves_terminal_requests_as_they_are() -> None:
    granted = accepted(decide(approval(id="apr-1"), who("ana", "sre"), "approve", "", at(1)))
    result = supersede(approval(id="apr-2", requested_at=5), [granted], at(5))
    assert result.superseded == ()
    assert result.new.status == "pending"


def test_decidable_by_lists_what_the_caller_could_approve() -> None:
    a = approval(requester="ci")
    assert decidable_by(a, who("ana", "sre"), at(1))
    assert not decidable_by(a, who("ci", "sre"), at(1))  # its own
    assert not decidable_by(a, who("bo", "dev"), at(1))  # no required role
    assert not decidable_by(a, who("ana", "sre"), at(86_400))  # expired
    voted = accepted(decide(approval(quorum=2), who("ana", "sre"), "approve", "", at(1)))
    assert not decidable_by(voted, who("ana", "sre"), at(2))  # decided already
