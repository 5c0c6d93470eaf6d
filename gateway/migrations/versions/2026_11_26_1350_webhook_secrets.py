"""webhook secrets

Per-agency secrets of the GitHub, GitLab and PagerDuty webhooks (stored as given, see
docs/metrics.md "Webhooks").

Revision ID: gateway_0002
Revises: gateway_0001
Create Date: 2026-11-26 13:50:35.232722
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0002"
down_revision: str | None = "gateway_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_secrets",
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("agency", "provider"),
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_table("webhook_secrets", schema="gateway")
