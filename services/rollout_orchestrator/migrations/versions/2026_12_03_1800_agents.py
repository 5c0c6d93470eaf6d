"""agents: the agent registry

One row per (agency, agent id): labels (JSONB, selected by containment through a GIN index),
runtime, the current, desired and applied revisions, and the last heartbeat's health
(docs/rollouts.md "Agent registry").

Revision ID: rollout_0002
Revises: rollout_0001
Create Date: 2026-12-03 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "rollout_0002"
down_revision: str | None = "rollout_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
SCHEMA = "rollout"
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("labels", postgresql.JSONB(), nullable=False),
        sa.Column("runtime", sa.Text(), nullable=False),
        sa.Column("current_revision", sa.Text(), nullable=False),
        sa.Column("desired_revision", sa.Text(), nullable=False),
        sa.Column("applied_revision", sa.Text()),
        sa.Column("healthy", sa.Boolean()),
        sa.Column("health", postgresql.JSONB(), nullable=False),
        sa.Column("registered_at", _TS, nullable=False),
        sa.Column("last_heartbeat_at", _TS),
        sa.PrimaryKeyConstraint("agency", "id", name="pk_agents"),
        schema=SCHEMA,
    )
    op.create_index("ix_agents_labels", "agents", ["labels"], schema=SCHEMA, postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_agents_labels", table_name="agents", schema=SCHEMA)
    op.drop_table("agents", schema=SCHEMA)
