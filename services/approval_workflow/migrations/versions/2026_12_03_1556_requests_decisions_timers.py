"""requests, decisions and timers

Approval requests (one row each, status changed under its row lock), one decision per approver
(primary key), and the durable expiry and escalation timers the reconciler claims with
``FOR UPDATE SKIP LOCKED`` (docs/approvals.md "Timers").

Revision ID: approval_0002
Revises: approval_0001
Create Date: 2026-12-03 15:56:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "approval_0002"
down_revision: str | None = "approval_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
SCHEMA = "approval"
_TS = sa.DateTime(timezone=True)
_TEXTS = postgresql.ARRAY(sa.Text())


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("input_hash", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("requester_team", sa.Text()),
        sa.Column("required_roles", _TEXTS, nullable=False),
        sa.Column("quorum", sa.Integer(), nullable=False),
        sa.Column("separation", sa.Text(), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("escalate_at", _TS),
        sa.Column("escalate_to", sa.Text()),
        sa.Column("escalated_at", _TS),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("decided_at", _TS),
        sa.Column("superseded_by", sa.Text()),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rule_ids", _TEXTS, nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("risk_score", sa.Float()),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'granted', 'rejected', 'expired', 'superseded')",
            name="ck_requests_status",
        ),
        sa.CheckConstraint("quorum >= 1", name="ck_requests_quorum"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_requests_agency_newest", "requests", ["agency", "requested_at", "id"], schema=SCHEMA
    )
    op.create_index(
        "ix_requests_agency_status_newest",
        "requests",
        ["agency", "status", "requested_at", "id"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_requests_subject",
        "requests",
        ["agency", "subject_kind", "subject_id", "requested_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "decisions",
        sa.Column(
            "approval_id",
            sa.Text(),
            sa.ForeignKey(f"{SCHEMA}.requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("approver", sa.Text(), nullable=False),
        sa.Column("roles", _TEXTS, nullable=False),
        sa.Column("team", sa.Text()),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("approval_id", "approver", name="pk_decisions"),
        sa.CheckConstraint("decision IN ('approve', 'reject')", name="ck_decisions_decision"),
        schema=SCHEMA,
    )
    op.create_table(
        "timers",
        sa.Column(
            "approval_id",
            sa.Text(),
            sa.ForeignKey(f"{SCHEMA}.requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("fired_at", _TS),
        sa.Column("result", sa.Text()),
        sa.PrimaryKeyConstraint("approval_id", "kind", name="pk_timers"),
        sa.CheckConstraint("kind IN ('expire', 'escalate')", name="ck_timers_kind"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_timers_due",
        "timers",
        ["due_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("fired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("timers", schema=SCHEMA)
    op.drop_table("decisions", schema=SCHEMA)
    op.drop_table("requests", schema=SCHEMA)
