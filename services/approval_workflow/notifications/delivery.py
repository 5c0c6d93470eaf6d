"""The deliverer: a loop in every replica that leases due notifications from the durable queue
(``FOR UPDATE SKIP LOCKED``, committed before sending), POSTs each signed to its target with
no database connection held, and records the result if its lease still holds: delivered on a
2xx, retried with exponential backoff and jitter, failed after the last attempt or on a
refusal. Woken by commits that queued notifications, and by a poll for retries and for rows
queued by other replicas."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from approval_workflow.notifications import metrics, repository, signing, urls
from approval_workflow.notifications.crypto import SecretBox, SecretUnreadable
from approval_workflow.notifications.repository import Attempt, ClaimedNotification, Destination
from cortex_kit.db import Database
from cortex_kit.logs import get_logger

log = get_logger("approval_workflow.notifications")
USER_AGENT = "cortex-approval-workflow"
_ERROR_CHARS = 300
_READ_BYTES = 1024
_RETRIED_STATUSES = frozenset({408, 425, 429})
HOUSEKEEPING_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class Policy:
    max_attempts: int
    backoff_s: float
    max_backoff_s: float
    timeout_s: float
    lease_s: float
    batch_size: int
    concurrency: int
    poll_interval_s: float
    retention_s: float
    allow_private: bool


def backoff_s(attempt: int, base_s: float, max_s: float, rand: Callable[[], float]) -> float:
    """The delay after failed attempt ``attempt`` (1, 2, …): ``base · 2^(attempt-1)``, capped,
    with "equal jitter" (between half and all of it), so receivers recovering from an outage
    are not hit by every retry at once."""
    ceiling = min(max_s, base_s * 2.0 ** min(attempt - 1, 30))
    return float(ceiling / 2 + rand() * ceiling / 2)


@dataclass(frozen=True, slots=True)
class Sent:
    """What one attempt got: a status (None: no answer), or why it was not sent."""

    status: int | None
    error: str | None
    permanent: bool = False


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)[:_ERROR_CHARS]


class Deliverer:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        client: httpx.AsyncClient,
        policy: Policy,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._box = box
        self._client = client
        self._policy = policy
        self._rand = rand
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(policy.concurrency)
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="approval-notifications")

    async def stop(self) -> None:
        """Let a batch being sent finish and be recorded (an attempt is bounded by the
        timeout), so a graceful restart sends nothing twice; then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._task), self._policy.timeout_s + 5)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def close(self) -> None:
        await self._client.aclose()

    async def run_once(self) -> int:
        """Lease one batch, send it, record the results; how many were leased."""
        async with self._db.session() as session:
            claimed = await repository.claim(session, self._policy.batch_size, self._policy.lease_s)
            where = await repository.destinations(session, claimed)
        if not claimed:
            return 0
        # Sent after the lease committed; a stop (cancel) mid-send leaves the rows leased,
        # retried by any replica when the lease ends.
        results = await asyncio.gather(
            *(self._attempt(c, where.get((c.agency, c.target_id))) for c in claimed)
        )
        async with self._db.session() as session:
            recorded = await repository.record(session, results)
        self._count(claimed, results, recorded)
        return len(claimed)

    async def _attempt(self, claimed: ClaimedNotification, where: Destination | None) -> Attempt:
        if where is None:
            return Attempt(claimed.id, claimed.attempts, "dropped", None, None, "target removed")
        async with self._slots:
            sent = await self._send(claimed, where)
        if sent.status is not None and 200 <= sent.status < 300:
            return Attempt(claimed.id, claimed.attempts, "delivered", None, sent.status, None)
        if sent.permanent or claimed.attempts >= self._policy.max_attempts:
            return Attempt(claimed.id, claimed.attempts, "failed", None, sent.status, sent.error)
        delay = backoff_s(
            claimed.attempts, self._policy.backoff_s, self._policy.max_backoff_s, self._rand
        )
        return Attempt(claimed.id, claimed.attempts, "pending", delay, sent.status, sent.error)

    async def _send(self, claimed: ClaimedNotification, where: Destination) -> Sent:
        try:
            target = urls.parse(where.url)
            addresses = await urls.resolve(target, allow_private=self._policy.allow_private)
            secret = self._box.open(where.secret_ciphertext)
        except urls.ForbiddenAddress as exc:
            return Sent(None, str(exc), permanent=True)
        except (urls.BadUrl, SecretUnreadable) as exc:
            return Sent(None, str(exc))
        body = claimed.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Host": target.parts.netloc,
            signing.SIGNATURE_HEADER: signing.signature(secret, int(time.time()), body),
            signing.DELIVERY_HEADER: claimed.id,
            signing.EVENT_HEADER: f"approval.{claimed.event}",
            signing.ATTEMPT_HEADER: str(claimed.attempts),
        }
        extensions = {"sni_hostname": target.host} if target.parts.scheme == "https" else {}
        try:
            async with asyncio.timeout(self._policy.timeout_s):
                pinned = urls.pinned(target, addresses[0])
                return await self._post(pinned, body, headers, extensions)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return Sent(None, _clean(f"{type(exc).__name__}: {exc}") or type(exc).__name__)

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], extensions: dict[str, str]
    ) -> Sent:
        request = self._client.build_request(
            "POST", url, content=body, headers=headers, extensions=extensions
        )
        response = await self._client.send(request, stream=True)
        try:
            said = b""
            async for chunk in response.aiter_bytes():
                said += chunk
                if len(said) >= _READ_BYTES:
                    break
        finally:
            await response.aclose()
        status = response.status_code
        if 200 <= status < 300:
            return Sent(status, None)
        error = _clean(f"HTTP {status}: {said.decode(errors='replace')}")
        if 300 <= status < 400:
            return Sent(status, error + " (redirects are not followed)", permanent=True)
        permanent = 400 <= status < 500 and status not in _RETRIED_STATUSES
        return Sent(status, error, permanent=permanent)

    def _count(
        self,
        claimed: list[ClaimedNotification],
        results: list[Attempt],
        recorded: set[str],
    ) -> None:
        now = time.time()
        for c, r in zip(claimed, results, strict=True):
            if r.id not in recorded:
                continue  # the lease ended and another replica took it over: its result counts
            if r.status == "pending":
                metrics.RETRIES.labels(c.event).inc()
                continue
            metrics.NOTIFICATIONS.labels(c.event, r.status).inc()
            if r.status == "delivered":
                metrics.DELIVERY_SECONDS.observe(max(0.0, now - c.created_at.timestamp()))
            else:
                log.warning(
                    "approval.notification_" + r.status,
                    notification_id=c.id,
                    approval_id=c.approval_id,
                    target_id=c.target_id,
                    attempts=c.attempts,
                    error=r.last_error,
                )

    async def housekeeping(self) -> None:
        async with self._db.session() as session:
            await repository.purge(session, self._policy.retention_s)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_housekeeping = loop.time()
        while not self._stopping:
            self._wake.clear()
            try:
                while await self.run_once() >= self._policy.batch_size and not self._stopping:
                    pass  # a full batch: more may be due
                if loop.time() >= next_housekeeping:
                    await self.housekeeping()
                    next_housekeeping = loop.time() + HOUSEKEEPING_INTERVAL_S
            except Exception as exc:  # an outage: try again next round, never die
                log.warning("approval.notifications_failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._policy.poll_interval_s)
