"""Tables of the approval-workflow (schema ``approval``)."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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
# Outgoing notifications (docs/approvals.md "Notifications"). Per agency: one signing secret
# (Fernet ciphertext only) and up to a few targets, each a URL and the events it wants.
notification_settings = Table(
    "notification_settings",
    metadata,
    Column("agency", Text, primary_key=True),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
notification_targets = Table(
    "notification_targets",
    metadata,
    Column(
        "agency",
        Text,
        ForeignKey("notification_settings.agency", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("id", Text, nullable=False),  # derived from the URL: the same URL keeps its id
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("agency", "id", name="pk_notification_targets"),
)
# The durable queue, written in the transaction of the state change it tells of. A replica
# claims due rows FOR UPDATE SKIP LOCKED and leases them (``next_attempt_at`` moved past the
# send's timeout, ``attempts`` + 1 as the fencing token), sends after commit, then records the
# result only if its lease still holds.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Text, primary_key=True),  # X-Cortex-Delivery: a receiver dedupes by it
    Column("agency", Text, nullable=False),
    Column("target_id", Text, nullable=False),
    Column("approval_id", Text, nullable=False),
    Column("event", Text, nullable=False),  # requested | granted | … (NOTIFICATION_EVENTS)
    Column("body", Text, nullable=False),  # the JSON sent, rendered when the event happened
    Column("status", Text, nullable=False),  # pending | delivered | failed | dropped
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_status", Integer),  # the receiver's last HTTP status
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),  # delivered, failed or dropped
    CheckConstraint(
        "status IN ('pending', 'delivered', 'failed', 'dropped')", name="ck_notifications_status"
    ),
)
Index(
    "ix_notifications_due",
    notifications.c.next_attempt_at,
    postgresql_where=text("status = 'pending'"),
)
Index(
    "ix_notifications_agency_status",
    notifications.c.agency,
    notifications.c.status,
    notifications.c.created_at,
)
