"""Tables of the rollout-orchestrator (schema ``rollout``)."""

from sqlalchemy import Boolean, Column, DateTime, Index, MetaData, PrimaryKeyConstraint, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "rollout"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)

# The agent registry (docs/rollouts.md "Agent registry"): one row per agent of an agency.
# ``desired_revision`` is what the agent should run, ``current_revision`` what it said at
# registration, ``applied_revision`` what its last heartbeat said it runs.
agents = Table(
    "agents",
    metadata,
    Column("agency", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("labels", JSONB, nullable=False),  # {"team": "payments", ...}: string to string
    Column("runtime", Text, nullable=False),
    Column("current_revision", Text, nullable=False),
    Column("desired_revision", Text, nullable=False),
    Column("applied_revision", Text),
    Column("healthy", Boolean),  # None until the first heartbeat
    Column("health", JSONB, nullable=False),  # the last heartbeat's details and metrics
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("last_heartbeat_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("agency", "id", name="pk_agents"),
)
# Label selectors are JSONB containment (labels @> {...}).
Index("ix_agents_labels", agents.c.labels, postgresql_using="gin")
