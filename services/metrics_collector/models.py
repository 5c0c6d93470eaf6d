"""Tables of the metrics-collector (schema ``metrics``)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "metrics"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)

# The id of the writing transaction (64-bit, never wraps): replicas' caches read what changed
# since the oldest transaction still running at their previous read (see dora/cache.py).
CURRENT_XID = text("(pg_current_xact_id()::text)::bigint")

# Every version of every delivery fact as it arrived (one row per envelope): a later status,
# a resolution or a duplicate is kept, and the merged fact is derived from all of them.
delivery_fact_versions = Table(
    "delivery_fact_versions",
    metadata,
    Column("envelope_id", Text, primary_key=True),
    Column("agency", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("environment", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("source", Text, nullable=False),
    Column("facts", JSONB, nullable=False),
)
Index(
    "ix_delivery_fact_versions_identity",
    delivery_fact_versions.c.agency,
    delivery_fact_versions.c.kind,
    delivery_fact_versions.c.event_id,
)

# The merged fact of each (agency, kind, event_id): what GET /v1/events shows and what the
# DORA calculators read.
delivery_events = Table(
    "delivery_events",
    metadata,
    Column("agency", Text, primary_key=True),
    Column("event_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("service", Text, nullable=False),
    Column("environment", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("envelope_id", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("facts", JSONB, nullable=False),
    Column("versions", Integer, nullable=False, server_default=text("1")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("changed_xid", BigInteger, nullable=False, server_default=CURRENT_XID),
)
Index("ix_delivery_events_agency_time", delivery_events.c.agency, delivery_events.c.occurred_at)
Index("ix_delivery_events_changed_xid", delivery_events.c.changed_xid)

# Per-agency choices of the DORA calculators (docs/metrics.md "Configuration").
dora_settings = Table(
    "dora_settings",
    metadata,
    Column("agency", Text, primary_key=True),
    Column("strategy", Text, nullable=False),
    Column("max_age_s", Double, nullable=False),
    Column("window_s", Double, nullable=False),
    Column("explicit_first", Boolean, nullable=False),
    Column("updated_by", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("changed_xid", BigInteger, nullable=False, server_default=CURRENT_XID),
)
