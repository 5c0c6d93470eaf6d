"""Approvals and principals for the rule tests, with a controllable clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from approval_workflow.domain.model import (
    Approval,
    Principal,
    Requirement,
    Separation,
    Subject,
    SubjectKind,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``seconds`` after T0: the rule tests' clock."""
    return T0 + timedelta(seconds=seconds)


def approval(
    *,
    id: str = "apr-1",
    roles: tuple[str, ...] = ("sre",),
    quorum: int = 1,
    requester: str = "ci",
    requester_team: str | None = "payments",
    separation: Separation = "requester",
    requested_at: float = 0,
    expires_in: float = 86_400,
    escalate_after: float | None = None,
    subject_kind: SubjectKind = "deployment",
    subject_id: str = "dep-1",
) -> Approval:
    return Approval(
        id=id,
        agency="acme",
        subject=Subject(subject_kind, subject_id, "sha256:" + "0" * 64),
        requested_by=requester,
        requester_team=requester_team,
        requirement=Requirement(roles, quorum, separation),
        requested_at=at(requested_at),
        expires_at=at(requested_at + expires_in),
        escalate_at=None if escalate_after is None else at(requested_at + escalate_after),
        escalate_to=None if escalate_after is None else "platform-oncall",
    )


def who(id: str, *roles: str, team: str | None = "platform") -> Principal:
    return Principal(id, frozenset(roles), team)


def pending(a: Approval) -> Approval:
    return replace(a, status="pending")
