"""api keys: route scopes

The routes a key may call (``METHOD /v1/path`` patterns, docs/api.md "Keys"), e.g. an agent's
key limited to ``POST /v1/authorize``. NULL — every existing key — is every route its role
allows.

Revision ID: gateway_0007
Revises: gateway_0006
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0007"
down_revision: str | None = "gateway_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys", sa.Column("routes", sa.ARRAY(sa.Text()), nullable=True), schema="gateway"
    )


def downgrade() -> None:
    op.drop_column("api_keys", "routes", schema="gateway")
