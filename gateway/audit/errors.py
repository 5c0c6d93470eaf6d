"""The audit log's errors (one class per code)."""

from cortex_kit.errors import CortexError


class InvalidAuditCursor(CortexError):
    status = 422
    code = "invalid_audit_cursor"
    title = "Invalid audit cursor"
