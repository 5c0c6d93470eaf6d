"""The events feature's errors (rendered as problem+json by the kit)."""

from cortex_kit.errors import NotFound


class EventNotFound(NotFound):
    code = "event_not_found"
