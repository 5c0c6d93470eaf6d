"""Agents and deployments at the gateway: pure rules (which roles do what)."""

from __future__ import annotations

from gateway.domain.keys import Role

AGENT_ROLES = frozenset({Role.AGENT, Role.DEPLOYER})
"""Register, heartbeat and long-poll the desired revision: agents, and deployers who run them
(admin always may)."""

DEPLOYING_ROLES = frozenset({Role.DEPLOYER})
"""Pin an agent's desired revision, create and control deployments (admin always may)."""

DEPLOYMENT_COMMANDS = ("pause", "resume", "abort", "rollback")
"""``POST /v1/deployments/{id}/{command}``, each with ``{"reason": …}``."""
