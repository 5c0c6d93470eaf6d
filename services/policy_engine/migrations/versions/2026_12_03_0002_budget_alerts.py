"""budget alerts

One row per alert threshold crossed, per budget window: the unique key that makes each
crossing's alert event go out once, whatever the concurrency (docs/policies.md "Budgets").

Revision ID: policy_0002
Revises: policy_0001
Create Date: 2026-12-03 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "policy_0002"
down_revision: str | None = "policy_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budget_alerts",
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=False),  # "" = the agency-wide window
        sa.Column("period", sa.Text(), nullable=False),  # "day" | "month"
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),  # "usd" | "tokens"
        sa.Column("threshold", sa.Numeric(), nullable=False),
        sa.Column("decision_id", sa.Text(), nullable=False),
        sa.Column("used_before", sa.Numeric(), nullable=False),
        sa.Column("used_after", sa.Numeric(), nullable=False),
        sa.Column("limit", sa.Numeric(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "agency",
            "agent_id",
            "period",
            "period_start",
            "unit",
            "threshold",
            name="pk_budget_alerts",
        ),
        schema="policy",
    )


def downgrade() -> None:
    op.drop_table("budget_alerts", schema="policy")
