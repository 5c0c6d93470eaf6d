"""delivery mappings

Every version of each agency's delivery mapping (docs/metrics.md "Mappings"): repositories and
PagerDuty services → services, counted branches, environment aliases. A PUT adds a version,
nothing is updated in place: who changed it, and when, stays readable.

Revision ID: gateway_0004
Revises: gateway_0003
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "gateway_0004"
down_revision: str | None = "gateway_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_mappings",
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", postgresql.JSONB(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("agency", "version"),
        sa.CheckConstraint("version > 0", name="ck_delivery_mappings_version"),
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_table("delivery_mappings", schema="gateway")
