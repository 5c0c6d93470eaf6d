"""The DORA feature's errors (rendered as problem+json by the kit)."""

from cortex_kit.errors import CortexError


class DoraQueryError(CortexError):
    """A query the calculators cannot answer as asked: bad window, bucket or time."""

    status = 422
    code = "invalid_dora_query"
    title = "Invalid DORA query"
