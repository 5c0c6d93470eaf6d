"""fact versions, merged facts, dora settings

Every version of a delivery fact is kept (``delivery_fact_versions``); ``delivery_events``
becomes the merged fact, with the writing transaction id for the replicas' caches. Facts stored
before this revision become their own first version.

Revision ID: metrics_0002
Revises: metrics_0001
Create Date: 2026-11-26 13:43:57.597249
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "metrics_0002"
down_revision: str | None = "metrics_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_fact_versions",
        sa.Column("envelope_id", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("envelope_id"),
        schema="metrics",
    )
    op.create_index(
        "ix_delivery_fact_versions_identity",
        "delivery_fact_versions",
        ["agency", "kind", "event_id"],
        unique=False,
        schema="metrics",
    )
    op.create_table(
        "dora_settings",
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("max_age_s", sa.Double(), nullable=False),
        sa.Column("window_s", sa.Double(), nullable=False),
        sa.Column("explicit_first", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "changed_xid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("agency"),
        schema="metrics",
    )
    op.add_column(
        "delivery_events",
        sa.Column("versions", sa.Integer(), server_default=sa.text("1"), nullable=False),
        schema="metrics",
    )
    op.add_column(
        "delivery_events",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        schema="metrics",
    )
    op.add_column(
        "delivery_events",
        sa.Column(
            "changed_xid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        schema="metrics",
    )
    op.create_index(
        "ix_delivery_events_changed_xid",
        "delivery_events",
        ["changed_xid"],
        unique=False,
        schema="metrics",
    )
    op.execute(
        """
        INSERT INTO metrics.delivery_fact_versions
            (envelope_id, agency, kind, event_id, service, environment, occurred_at,
             received_at, source, facts)
        SELECT envelope_id, agency, kind, event_id, service, environment, occurred_at,
               received_at, source, facts
        FROM metrics.delivery_events
        ON CONFLICT DO NOTHING
        """
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_events_changed_xid", table_name="delivery_events", schema="metrics")
    op.drop_column("delivery_events", "changed_xid", schema="metrics")
    op.drop_column("delivery_events", "updated_at", schema="metrics")
    op.drop_column("delivery_events", "versions", schema="metrics")
    op.drop_table("dora_settings", schema="metrics")
    op.drop_index(
        "ix_delivery_fact_versions_identity", table_name="delivery_fact_versions", schema="metrics"
    )
    op.drop_table("delivery_fact_versions", schema="metrics")
