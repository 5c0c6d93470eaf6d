"""notifications

Outgoing notifications: per agency a signing secret (Fernet ciphertext) and its targets (URL,
events), and the durable queue of notifications written with the state change they tell of
(docs/approvals.md "Notifications").

Revision ID: approval_0004
Revises: approval_0003
Create Date: 2026-12-03 17:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "approval_0004"
down_revision: str | None = "approval_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
SCHEMA = "approval"
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("agency", sa.Text(), primary_key=True),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "notification_targets",
        sa.Column(
            "agency",
            sa.Text(),
            sa.ForeignKey(f"{SCHEMA}.notification_settings.agency", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agency", "id", name="pk_notification_targets"),
        schema=SCHEMA,
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("approval_id", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'dropped')",
            name="ck_notifications_status",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_notifications_agency_status",
        "notifications",
        ["agency", "status", "created_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("notifications", schema=SCHEMA)
    op.drop_table("notification_targets", schema=SCHEMA)
    op.drop_table("notification_settings", schema=SCHEMA)
