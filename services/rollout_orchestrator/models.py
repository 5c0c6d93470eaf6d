"""Tables of the rollout-orchestrator (schema ``rollout``)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
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

# Deployment runs (docs/rollouts.md "Deployments"). A run is one plan on one fleet: its batches,
# the snapshot of every target's previous revision (immutable, pinned to the run), the timeline
# of its transitions, the health readings of the agents under observation, and the
# Idempotency-Keys of its creation. ``version`` grows with every change (the fencing token of
# the run's writers, and what a long-poll on the record waits for).
runs = Table(
    "runs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("agency", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("team", Text),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("revision", Text, nullable=False),
    Column("change_kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("plan", JSONB, nullable=False),  # the request as submitted, normalised
    Column("decision", JSONB, nullable=False),  # the policy evaluation, with its id
    Column("overrides", JSONB, nullable=False),
    Column("commit_shas", JSONB, nullable=False),
    Column("snapshot_id", Text, nullable=False),
    Column("agents_total", Integer, nullable=False),
    Column("batches_total", Integer, nullable=False),
    Column("approval_id", Text),
    Column("approval_status", Text),
    Column("approval_approvers", JSONB),
    Column("approval_requested_at", DateTime(timezone=True)),
    Column("approval_decided_at", DateTime(timezone=True)),
    Column("rollback_trigger", Text),
    Column("rollback_actor", Text),
    Column("rollback_reason", Text),
    Column("rollback_rule_id", Text),
    Column("rollback_detected_at", DateTime(timezone=True)),
    Column("rollback_started_at", DateTime(timezone=True)),
    Column("rollback_finished_at", DateTime(timezone=True)),
    Column("reason", Text),  # why the run is where it is (the last transition's reason)
    Column("stuck_at", DateTime(timezone=True)),
    Column("progress_at", DateTime(timezone=True), nullable=False),  # the watchdog's clock
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)
Index("ix_runs_agency_created", runs.c.agency, runs.c.created_at.desc(), runs.c.id.desc())
Index(
    "ix_runs_active",
    runs.c.status,
    postgresql_where=runs.c.status.in_(["pending_approval", "running", "paused", "rolling_back"]),
)
batches = Table(
    "batches",
    metadata,
    Column("run_id", Text, nullable=False),
    Column("index", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("verdict", JSONB),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("run_id", "index", name="pk_batches"),
)
# The revert snapshot: each target's desired revision when the run was planned, and its batch.
snapshot_entries = Table(
    "snapshot_entries",
    metadata,
    Column("run_id", Text, nullable=False),
    Column("agency", Text, nullable=False),
    Column("agent_id", Text, nullable=False),
    Column("batch_index", Integer, nullable=False),
    Column("revision", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "agent_id", name="pk_snapshot_entries"),
)
Index("ix_snapshot_entries_agent", snapshot_entries.c.agency, snapshot_entries.c.agent_id)
# The timeline. ``driver`` is the replica whose transaction made the transition.
transitions = Table(
    "transitions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("run_id", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason_code", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("batch_index", Integer),
    Column("driver", Text, nullable=False),
)
Index("ix_transitions_run", transitions.c.run_id, transitions.c.id)
# Heartbeats of agents in a batch under observation that run the run's revision.
health_readings = Table(
    "health_readings",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("run_id", Text, nullable=False),
    Column("batch_index", Integer, nullable=False),
    Column("agent_id", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("healthy", Boolean, nullable=False),
)
Index("ix_health_readings_batch", health_readings.c.run_id, health_readings.c.batch_index)
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("agency", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("body_hash", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("agency", "key", name="pk_idempotency_keys"),
)
