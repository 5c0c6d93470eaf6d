"""The mapping feature's errors (one class per code)."""

from cortex_kit.errors import CortexError, NotFound


class InvalidMapping(CortexError):
    """A mapping document that cannot be used: the field it names, and how to fix it."""

    status = 422
    code = "invalid_mapping"
    title = "Invalid delivery mapping"
    extra_schema = {"field": {"type": "string"}}


class MappingVersionNotFound(NotFound):
    code = "mapping_version_not_found"
