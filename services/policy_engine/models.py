"""Tables of the policy-engine (schema ``policy``)."""

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "policy"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)

# One row per immutable published version of one layer (org baseline, agency, team overlay).
policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("scope", Text, nullable=False),  # "org" | "agency:<a>" | "team:<a>:<team>"
    Column("layer", Text, nullable=False),
    Column("agency", Text),
    Column("team", Text),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("document", JSONB, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("rollback_of", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("scope", "version", name="uq_policy_versions_scope_version"),
)

# Running totals per budget window; updated atomically by reservations and settlements.
budget_usage = Table(
    "budget_usage",
    metadata,
    Column("agency", Text, nullable=False),
    Column("agent_id", Text, nullable=False),  # "" = the agency-wide counter
    Column("period", Text, nullable=False),  # "day" | "month"
    Column("period_start", Date, nullable=False),
    Column("usd", Numeric(18, 6), nullable=False, server_default="0"),
    Column("tokens", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("agency", "agent_id", "period", "period_start", name="pk_budget_usage"),
)

budget_reservations = Table(
    "budget_reservations",
    metadata,
    Column("decision_id", Text, primary_key=True),
    Column("agency", Text, nullable=False),
    Column("agent_id", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("month", Date, nullable=False),
    Column("reserved_usd", Numeric(18, 6), nullable=False),
    Column("reserved_tokens", BigInteger, nullable=False),
    Column("actual_usd", Numeric(18, 6)),
    Column("actual_tokens", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("settled_at", DateTime(timezone=True)),
)

# The decision log: masked inputs and full explanations, written off the hot path.
decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", Text, primary_key=True),
    Column("agency", Text, nullable=False),
    Column("agent_id", Text, nullable=False),
    Column("action_type", Text, nullable=False),
    Column("decision", Text, nullable=False),
    Column("risk_score", Float, nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("input", JSONB, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("evaluated_us", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_decisions_agency_time", decisions.c.agency, decisions.c.created_at)
Index("ix_decisions_agent_time", decisions.c.agency, decisions.c.agent_id, decisions.c.created_at)

wizard_sessions = Table(
    "wizard_sessions",
    metadata,
    Column("agency", Text, primary_key=True),
    Column("answers", JSONB, nullable=False),
    Column("completed_steps", JSONB, nullable=False),
    Column("published_version", Integer),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
