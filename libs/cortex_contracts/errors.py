"""Errors raised when an event does not fit the contracts."""

from __future__ import annotations


class ContractError(Exception):
    """Base class of every error raised by `cortex_contracts`."""


class UnknownEventType(ContractError, LookupError):
    """The event type is not a payload registered in `cortex_contracts`."""

    def __init__(self, type_name: str) -> None:
        super().__init__(
            f"unknown event type {type_name!r}: not a payload registered in "
            "cortex_contracts.subjects.EVENT_ROUTES (is the producer newer than this consumer?)"
        )
        self.type_name = type_name


class UnexpectedEventType(ContractError, TypeError):
    """The envelope holds a known payload, but not the one the caller expects."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"expected event type {expected!r}, got {actual!r}")
        self.expected = expected
        self.actual = actual


class MalformedEnvelope(ContractError, ValueError):
    """The bytes are not a valid, complete `Envelope`, or its payload cannot be parsed."""
