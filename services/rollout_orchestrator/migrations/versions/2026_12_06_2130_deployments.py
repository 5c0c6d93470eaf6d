"""deployments: runs, batches, snapshot entries, transitions, health readings, idempotency keys

A run is one plan on one fleet (docs/rollouts.md "Deployments"): its batches, the immutable
snapshot of every target's previous revision, the timeline of transitions (with the replica
that drove each), the health readings of agents under observation, and the Idempotency-Keys
of its creation.

Revision ID: rollout_0003
Revises: rollout_0002
Create Date: 2026-12-06 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "rollout_0003"
down_revision: str | None = "rollout_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
SCHEMA = "rollout"
_TS = sa.DateTime(timezone=True)
_JSON = postgresql.JSONB()
ACTIVE = "status IN ('pending_approval', 'running', 'paused', 'rolling_back')"


def _runs() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("team", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("change_kind", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("plan", _JSON, nullable=False),
        sa.Column("decision", _JSON, nullable=False),
        sa.Column("overrides", _JSON, nullable=False),
        sa.Column("commit_shas", _JSON, nullable=False),
        sa.Column("snapshot_id", sa.Text(), nullable=False),
        sa.Column("agents_total", sa.Integer(), nullable=False),
        sa.Column("batches_total", sa.Integer(), nullable=False),
        sa.Column("approval_id", sa.Text()),
        sa.Column("approval_status", sa.Text()),
        sa.Column("approval_approvers", _JSON),
        sa.Column("approval_requested_at", _TS),
        sa.Column("approval_decided_at", _TS),
        sa.Column("rollback_trigger", sa.Text()),
        sa.Column("rollback_actor", sa.Text()),
        sa.Column("rollback_reason", sa.Text()),
        sa.Column("rollback_rule_id", sa.Text()),
        sa.Column("rollback_detected_at", _TS),
        sa.Column("rollback_started_at", _TS),
        sa.Column("rollback_finished_at", _TS),
        sa.Column("reason", sa.Text()),
        sa.Column("stuck_at", _TS),
        sa.Column("progress_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("started_at", _TS),
        sa.Column("finished_at", _TS),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_runs_agency_created",
        "runs",
        ["agency", sa.text("created_at DESC"), sa.text("id DESC")],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_runs_active", "runs", ["status"], schema=SCHEMA, postgresql_where=sa.text(ACTIVE)
    )


def _parts() -> None:
    op.create_table(
        "batches",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("verdict", _JSON),
        sa.Column("started_at", _TS),
        sa.Column("finished_at", _TS),
        sa.PrimaryKeyConstraint("run_id", "index", name="pk_batches"),
        schema=SCHEMA,
    )
    op.create_table(
        "snapshot_entries",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=False),
        sa.Column("batch_index", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "agent_id", name="pk_snapshot_entries"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_snapshot_entries_agent", "snapshot_entries", ["agency", "agent_id"], schema=SCHEMA
    )
    op.create_table(
        "transitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("from_status", sa.Text()),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("batch_index", sa.Integer()),
        sa.Column("driver", sa.Text(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_transitions_run", "transitions", ["run_id", "id"], schema=SCHEMA)
    op.create_table(
        "health_readings",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("batch_index", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_health_readings_batch", "health_readings", ["run_id", "batch_index"], schema=SCHEMA
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("body_hash", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("agency", "key", name="pk_idempotency_keys"),
        schema=SCHEMA,
    )


def upgrade() -> None:
    _runs()
    _parts()


def downgrade() -> None:
    for table in ("idempotency_keys", "health_readings", "transitions", "snapshot_entries"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_table("batches", schema=SCHEMA)
    op.drop_index("ix_runs_active", table_name="runs", schema=SCHEMA)
    op.drop_index("ix_runs_agency_created", table_name="runs", schema=SCHEMA)
    op.drop_table("runs", schema=SCHEMA)
