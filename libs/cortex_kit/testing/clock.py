"""A clock a test moves by hand, for services that take their time from one callable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """``clock()`` is the time the test set: now at creation, then moved by ``advance``."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
