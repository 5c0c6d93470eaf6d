"""initial: outbox and inbox

Revision ID: analytics_0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

from cortex_kit.migrations import create_messaging_tables

revision = "analytics_0001"
down_revision = None
branch_labels = None
depends_on = None
SCHEMA = "analytics"


def upgrade() -> None:
    create_messaging_tables(SCHEMA)


def downgrade() -> None:
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
