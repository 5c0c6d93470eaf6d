"""Tables of the approval-workflow (schema ``approval``)."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "approval"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)

# One row per approval request; its status changes under the row lock (FOR UPDATE).
requests = Table(
    "requests",
    metadata,
    Column("id", Text, primary_key=True),
    Column("agency", Text, nullable=False),
    Column("subject_kind", Text, nullable=False),  # deployment | decision | action
    Column("subject_id", Text, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("requester_team", Text),
    Column("required_roles", ARRAY(Text), nullable=False),
    Column("quorum", Integer, nullable=False),
    Column("separation", Text, nullable=False),  # requester | team
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("escalate_at", DateTime(timezone=True)),
    Column("escalate_to", Text),
    Column("escalated_at", DateTime(timezone=True)),
    Column("status", Text, nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("superseded_by", Text),
    Column("summary", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("rule_ids", ARRAY(Text), nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("risk_score", Float),
    Column("origin", Text, nullable=False),  # api | event
    # sha256 of what was asked, to tell a retry (same) from a reused id (different).
    Column("fingerprint", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "status IN ('pending', 'granted', 'rejected', 'expired', 'superseded')",
        name="ck_requests_status",
    ),
    CheckConstraint("quorum >= 1", name="ck_requests_quorum"),
)
# Newest first per agency (the list's keyset order), and per status and per subject.
Index("ix_requests_agency_newest", requests.c.agency, requests.c.requested_at, requests.c.id)
Index(
    "ix_requests_agency_status_newest",
    requests.c.agency,
    requests.c.status,
    requests.c.requested_at,
    requests.c.id,
)
Index(
    "ix_requests_subject",
    requests.c.agency,
    requests.c.subject_kind,
    requests.c.subject_id,
    requests.c.requested_at,
)

# One decision per approver per request: the primary key makes a second one impossible.
decisions = Table(
    "decisions",
    metadata,
    Column("approval_id", Text, ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
    Column("approver", Text, nullable=False),
    Column("roles", ARRAY(Text), nullable=False),
    Column("team", Text),
    Column("decision", Text, nullable=False),  # approve | reject
    Column("comment", Text, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("approval_id", "approver", name="pk_decisions"),
    CheckConstraint("decision IN ('approve', 'reject')", name="ck_decisions_decision"),
)

# Durable timers: claimed FOR UPDATE SKIP LOCKED by the reconciler in the transaction that
# applies them; ``fired_at`` set once, so a timer fires once whatever the replicas.
timers = Table(
    "timers",
    metadata,
    Column("approval_id", Text, ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),  # expire | escalate
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True)),
    # fired (it changed the request) | moot (the request was already terminal)
    Column("result", Text),
    PrimaryKeyConstraint("approval_id", "kind", name="pk_timers"),
    CheckConstraint("kind IN ('expire', 'escalate')", name="ck_timers_kind"),
)
Index("ix_timers_due", timers.c.due_at, postgresql_where=text("fired_at IS NULL"))

# Uses of granted action approvals (docs/approvals.md "Agent actions"): one row per
# re-authorized decision, counted under the request's row lock against its allowance.
uses = Table(
    "uses",
    metadata,
    Column("approval_id", Text, ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
    Column("decision_id", Text, nullable=False),
    Column("agent_id", Text, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("approval_id", "decision_id", name="pk_uses"),
)
