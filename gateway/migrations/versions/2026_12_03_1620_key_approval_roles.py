"""api keys: approval roles and team

What the approval workflow is told a key's caller holds beyond its role (``approval_roles``,
e.g. ``data-owner``) and its team (the separation-of-duties rule). Existing keys get none.

Revision ID: gateway_0005
Revises: gateway_0004
Create Date: 2026-12-03 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0005"
down_revision: str | None = "gateway_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column(
            "approval_roles",
            sa.ARRAY(sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        schema="gateway",
    )
    op.add_column("api_keys", sa.Column("team", sa.Text(), nullable=True), schema="gateway")


def downgrade() -> None:
    op.drop_column("api_keys", "team", schema="gateway")
    op.drop_column("api_keys", "approval_roles", schema="gateway")
