"""Tables of the metrics-collector (schema ``metrics``)."""

from sqlalchemy import Column, DateTime, Index, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "metrics"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)

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
)
Index("ix_delivery_events_agency_time", delivery_events.c.agency, delivery_events.c.occurred_at)
