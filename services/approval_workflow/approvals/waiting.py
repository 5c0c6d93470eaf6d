"""Long-poll: requests waiting for an approval to reach a terminal state, woken in this
process after the commit that closed it, by the ``cortex.approval.decided`` broadcast of any
replica, and by a short database poll (for a broadcast missed)."""

from __future__ import annotations

import asyncio
import contextlib

from approval_workflow.approvals import repository
from cortex_contracts import (
    ApprovalDecided,
    MalformedEnvelope,
    UnknownEventType,
    decode,
    subject_filter,
    unpack,
)
from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from cortex_kit.messaging.broadcast import Broadcast
from cortex_kit.messaging.handlers import Message, Undecodable

log = get_logger("approval_workflow.waiting")


def decided_id(data: bytes) -> str:
    """The approval id an ``ApprovalDecided`` envelope is about."""
    try:
        return unpack(decode(data), ApprovalDecided).approval_id
    except (MalformedEnvelope, UnknownEventType) as exc:
        raise Undecodable(str(exc)) from exc


class Waiters:
    """Futures of the requests waiting per approval id. Bounded: an entry lives only while
    its request waits, and at most ``max_waiters`` wait at once (``wait`` answers False at
    once beyond that)."""

    def __init__(self, max_waiters: int) -> None:
        self._max = max_waiters
        self._count = 0
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}

    def register(self, approval_id: str) -> asyncio.Future[None] | None:
        """A future resolved when ``approval_id`` closes (None: too many waiting)."""
        if self._count >= self._max:
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(approval_id, set()).add(future)
        self._count += 1
        return future

    def release(self, approval_id: str, future: asyncio.Future[None]) -> None:
        group = self._waiting.get(approval_id)
        if group is None or future not in group:
            return
        group.discard(future)
        self._count -= 1
        if not group:
            del self._waiting[approval_id]

    async def wait(self, future: asyncio.Future[None], timeout_s: float) -> bool:
        """Whether ``future`` was woken within ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(future), timeout_s)
        return future.done()

    def wake(self, approval_ids: list[str] | set[str] | tuple[str, ...]) -> None:
        for approval_id in approval_ids:
            for future in self._waiting.get(approval_id, ()):
                if not future.done():
                    future.set_result(None)

    def waiting(self) -> list[str]:
        return list(self._waiting)

    def broadcast(self) -> Broadcast[str]:
        """Every replica hears each published ``ApprovalDecided`` (core NATS sees JetStream's
        publishes) and wakes its own waiters."""

        async def heard(message: Message[str]) -> None:
            self.wake((message.payload,))

        return Broadcast(
            "approval-waiters", subject_filter("approval", "decided"), decided_id, heard
        )


class WaitPoll:
    """Every ``interval_s``, while requests wait, asks the database which of the approvals
    they wait for are terminal and wakes them (a decision on a replica whose broadcast this
    process missed)."""

    def __init__(self, db: Database, waiters: Waiters, interval_s: float) -> None:
        self._db = db
        self._waiters = waiters
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="approval-wait-poll")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            ids = self._waiters.waiting()
            if not ids:
                continue
            try:
                async with self._db.session() as session:
                    self._waiters.wake(await repository.terminal_among(session, ids))
            except Exception as exc:  # an outage: the waiters time out and read again
                log.warning("approval.wait_poll_failed", error=f"{type(exc).__name__}: {exc}")
