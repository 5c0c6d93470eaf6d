"""Error base class rendered as RFC 9457 problem details by the web layer."""

from __future__ import annotations

from typing import Any, ClassVar

DOCS_BASE = "https://codevald.io/cortex/docs/errors"


class CortexError(Exception):
    """An expected failure with an HTTP status, a stable ``code`` and a ``remediation``.

    Services subclass it (one base per service) and raise it from use cases; the web layer
    renders it as ``application/problem+json``. Never raise ``HTTPException`` from services.
    """

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    # Seconds a client should wait before retrying (the ``Retry-After`` header), if it may.
    retry_after_s: ClassVar[int | None] = None

    def __init__(
        self,
        detail: str,
        *,
        remediation: str,
        extra: dict[str, Any] | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.remediation = remediation
        self.extra = extra or {}
        if status is not None:
            self.status = status  # type: ignore[misc]
        if code is not None:
            self.code = code  # type: ignore[misc]

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"{DOCS_BASE}#{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            "remediation": self.remediation,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotFound(CortexError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(CortexError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unauthorized(CortexError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(CortexError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Unavailable(CortexError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"
    retry_after_s = 2


class UpstreamUnavailable(Unavailable):
    """A dependency (PostgreSQL, NATS, another service) did not answer: retry shortly."""

    code = "upstream_unavailable"


class InvalidValue(CortexError):
    """Input the store cannot hold (a NUL character, a number out of range)."""

    status = 422
    code = "invalid_value"
    title = "Invalid value"
