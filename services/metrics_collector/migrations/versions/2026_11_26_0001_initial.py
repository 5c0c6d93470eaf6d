"""initial: outbox, inbox, delivery events

Revision ID: metrics_0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from cortex_kit.migrations import create_messaging_tables

revision = "metrics_0001"
down_revision = None
branch_labels = None
depends_on = None
SCHEMA = "metrics"


def upgrade() -> None:
    create_messaging_tables(SCHEMA)
    op.create_table(
        "delivery_events",
        sa.Column("agency", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("environment", sa.Text),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("envelope_id", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("facts", postgresql.JSONB, nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_delivery_events_agency_time",
        "delivery_events",
        ["agency", "occurred_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("delivery_events", schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
