"""Approvals at the gateway: who decides, what the workflow is told, how long a call is held."""

from gateway.domain.approvals import MAX_WAIT_S, long_poll_s, may_decide
from gateway.domain.keys import Principal, Role


def test_only_approver_and_admin_keys_decide() -> None:
    deciding = {role for role in Role if may_decide(Principal("k", role, "acme"))}
    assert deciding == {Role.APPROVER, Role.ADMIN}


def test_approval_roles_do_not_make_a_key_decide() -> None:
    assert not may_decide(Principal("k", Role.VIEWER, "acme", approval_roles=("data-owner",)))


def test_the_workflow_is_told_the_keys_role_then_its_approval_roles_once_each() -> None:
    key = Principal("k", Role.APPROVER, "acme", approval_roles=("data-owner", "approver", "sre"))
    assert key.approver_roles == ("approver", "data-owner", "sre")
    assert Principal("k", Role.ADMIN, "*").approver_roles == ("admin",)


def test_a_long_poll_is_held_at_most_the_gateways_limit() -> None:
    assert [long_poll_s(w) for w in (0, 2.5, MAX_WAIT_S, 300)] == [0, 2.5, MAX_WAIT_S, MAX_WAIT_S]
