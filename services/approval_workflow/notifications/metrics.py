"""``cortex_approval_notification*`` series. Labels are bounded words (the event, the result):
never an agency, a URL or a request id."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

NOTIFICATIONS = Counter(
    "cortex_approval_notifications_total",
    "Notifications finished: delivered, failed (after the last retry, or refused by the "
    "receiver) or dropped (their target was removed).",
    ["event", "result"],
)
RETRIES = Counter(
    "cortex_approval_notification_retries_total",
    "Attempts that failed and were scheduled again.",
    ["event"],
)
DELIVERY_SECONDS = Histogram(
    "cortex_approval_notification_delivery_seconds",
    "From the state change to the receiver's 2xx.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
