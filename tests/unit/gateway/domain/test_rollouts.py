"""Agents and deployments at the gateway: which key roles may do what."""

from gateway.domain.keys import Principal, Role
from gateway.domain.rollouts import AGENT_ROLES, DEPLOYING_ROLES


def _may(allowed: frozenset[Role]) -> set[Role]:
    return {role for role in Role if Principal("k", role, "acme").may(allowed)}


def test_agents_deployers_and_admins_run_agents() -> None:
    assert _may(AGENT_ROLES) == {Role.AGENT, Role.DEPLOYER, Role.ADMIN}


def test_only_deployers_and_admins_deploy() -> None:
    assert _may(DEPLOYING_ROLES) == {Role.DEPLOYER, Role.ADMIN}
