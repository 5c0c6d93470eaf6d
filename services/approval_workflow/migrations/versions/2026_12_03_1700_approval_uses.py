"""approval uses

Uses of granted action approvals: one row per re-authorized decision of the policy engine
(primary key: approval and decision, so the same decision asking again is one use), counted
under the request's row lock against its allowance (docs/approvals.md "Agent actions").

Revision ID: approval_0003
Revises: approval_0002
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "approval_0003"
down_revision: str | None = "approval_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
SCHEMA = "approval"


def upgrade() -> None:
    op.create_table(
        "uses",
        sa.Column(
            "approval_id",
            sa.Text(),
            sa.ForeignKey(f"{SCHEMA}.requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("decision_id", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=False),
        sa.Column("input_hash", sa.Text(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("approval_id", "decision_id", name="pk_uses"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("uses", schema=SCHEMA)
