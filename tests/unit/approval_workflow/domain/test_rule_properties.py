"""Properties of the rules over any sequence of decisions (hypothesis)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from approval_workflow.domain.model import Approval, Principal, Verdict
from approval_workflow.domain.rules import Decided, decide
from tests.unit.approval_workflow.builders import approval, at

ROLES = ("sre", "security", "lead")
PEOPLE = ("ci", "ana", "bo", "cy", "dee", "eve")
TEAMS = ("payments", "platform", None)

deciders = st.builds(
    Principal,
    st.sampled_from(PEOPLE),
    st.frozensets(st.sampled_from(ROLES), max_size=3),
    st.sampled_from(TEAMS),
)
steps = st.lists(st.tuples(deciders, st.sampled_from(("approve", "reject"))), max_size=12)
requests = st.builds(
    lambda roles, quorum, separation: approval(
        roles=tuple(roles), quorum=quorum, separation=separation, requester="ci"
    ),
    st.lists(st.sampled_from(ROLES), unique=True, max_size=3),
    st.integers(1, 4),
    st.sampled_from(("requester", "team")),
)


def run(start: Approval, decisions: list[tuple[Principal, Verdict]]) -> list[Approval]:
    """The request after each decision (a refused decision leaves it as it was)."""
    states = [start]
    for n, (decider, verdict) in enumerate(decisions):
        result = decide(states[-1], decider, verdict, "", at(n + 1))
        states.append(result.approval if isinstance(result, Decided) else states[-1])
    return states


@settings(max_examples=400, deadline=None)
@given(requests, steps)
def test_no_sequence_grants_without_quorum_and_roles(
    start: Approval, decisions: list[tuple[Principal, Verdict]]
) -> None:
    final = run(start, decisions)[-1]
    if final.status != "granted":
        return
    votes = [v for v in final.votes if v.decision == "approve"]
    approvers = {v.approver for v in votes}
    assert len(approvers) >= start.requirement.quorum
    assert len(approvers) == len(votes)  # one decision per approver
    covered = {role for v in votes for role in v.roles}
    assert covered >= set(start.requirement.required_roles)
    assert start.requested_by not in approvers
    assert all(v.decision == "approve" for v in final.votes)
    if start.requirement.separation == "team":
        assert all(v.team is not None and v.team != start.requester_team for v in votes)


@settings(max_examples=400, deadline=None)
@given(requests, steps)
def test_any_accepted_rejection_rejects(
    start: Approval, decisions: list[tuple[Principal, Verdict]]
) -> None:
    final = run(start, decisions)[-1]
    if any(v.decision == "reject" for v in final.votes):
        assert final.status == "rejected"


@settings(max_examples=400, deadline=None)
@given(requests, steps)
def test_terminal_is_final(start: Approval, decisions: list[tuple[Principal, Verdict]]) -> None:
    states = run(start, decisions)
    for before, after in itertools.pairwise(states):
        if before.terminal:
            assert after == before
