"""Long-poll on a run's record (``GET /v1/deployments/{id}?version=V&wait=N``): woken in this
process after a commit that changed a run, and re-read at least every ``poll_s`` (a change
another replica committed). No database connection is held while waiting."""

from __future__ import annotations

import asyncio
import contextlib

from cortex_kit.db import Database
from rollout_orchestrator.deployments import repository


class RunWatch:
    def __init__(self, poll_s: float = 1.0) -> None:
        self._changed = asyncio.Event()
        self._poll_s = poll_s

    def changed(self) -> None:
        """A run changed: wake every waiter (each re-reads its run's version)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, db: Database, agency: str, run_id: str, known: int, wait_s: float) -> None:
        """Return when the run's version is not ``known`` (or it is gone), or after ``wait_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            event = self._changed
            async with db.session() as session:
                version = await repository.version_of(session, agency, run_id)
            left = deadline - loop.time()
            if version != known or left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(left, self._poll_s))
