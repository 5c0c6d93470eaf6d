"""The DORA feature's errors (rendered as problem+json by the kit)."""

from cortex_kit.errors import CortexError


class DoraQueryError(CortexError):
    """A query the calculators cannot answer as asked: bad window, bucket or time."""

    status = 422
    code = "invalid_dora_query"
    title = "Invalid DORA query"


class InvalidTime(DoraQueryError):
    code = "invalid_time"
    title = "Invalid time"


class UnknownBucket(DoraQueryError):
    code = "unknown_bucket"
    title = "Unknown bucket"


class InvalidWindow(DoraQueryError):
    """An empty window, or one the calculators cannot answer in the buckets asked for."""

    code = "invalid_window"
    title = "Invalid window"
    extra_schema = {"from": {"type": "string"}, "to": {"type": "string"}}


class WindowTooLarge(DoraQueryError):
    code = "window_too_large"
    title = "Window too large"
    extra_schema = {"max_days": {"type": "integer"}}
