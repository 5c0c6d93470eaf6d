"""``Idempotency-Key`` on creating POSTs: the first request runs, a retry gets its answer.

Per API key, in PostgreSQL (``idempotency_keys``), so every replica sees the same keys:

- a new key is claimed with the request's hash (method, path, query, body) and the request
  runs; a success (2xx) is stored — status, body, ``Content-Type``, ``Location`` — for
  ``ttl_s``; any other answer releases the key, so a corrected retry runs again;
- the same key with the same request replays the stored answer (``Idempotent-Replayed: true``);
- the same key with another request is 422 ``idempotency_key_reused``;
- while the first request runs, a duplicate waits up to ``wait_s`` for its answer, then gets
  409 ``idempotency_in_progress`` with ``Retry-After``;
- a holder that gave no answer within ``lock_s`` (a replica that died mid-request) loses the
  key to the next request.

The answer is stored just after the change committed, before it is sent: a replica dying in
between leaves the key held until ``lock_s``, and the retry then runs again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from cortex_kit.web import BodyOverLimit, problem_response
from gateway.protection import repository
from gateway.protection.errors import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from gateway.protection.repository import StoredAnswer

log = get_logger("gateway.protection")
HEADER = b"idempotency-key"
KEY_RULE = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("location",)
_POLL_S = 0.05


@dataclass(frozen=True)
class IdempotencyPolicy:
    ttl_s: float
    wait_s: float
    lock_s: float


def invalid_key(key: str) -> InvalidIdempotencyKey | None:
    if KEY_RULE.match(key):
        return None
    return InvalidIdempotencyKey(
        "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
        remediation="Send a UUID (or another unique token of up to 255 characters, no "
        "spaces) per logical request, and the same one on its retries.",
    )


def request_hash(scope: Scope, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope["query_string"]):
        digest.update(part + b"\0")
    digest.update(body)
    return digest.digest()


async def read_body(receive: Receive) -> bytes | BodyOverLimit:
    """The whole body (bounded by the kit's ``RequestGuard``), or the refusal of one too big."""
    chunks: list[bytes] = []
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
    except BodyOverLimit as exc:
        return exc
    return b"".join(chunks)


def replaying(body: bytes | BodyOverLimit, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` again (or raises its refusal), then the original's."""
    pending = [body]

    async def again() -> Message:
        if pending:
            first = pending.pop()
            if isinstance(first, BodyOverLimit):
                raise first
            return {"type": "http.request", "body": first, "more_body": False}
        return await receive()

    return again


@dataclass
class _Captured:
    """The app's answer, held back until it is stored."""

    messages: list[Message] = field(default_factory=list)
    status: int = 500
    media_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)

    def keep(self, message: Message) -> bool:
        """True once the last message of the answer is kept."""
        self.messages.append(message)
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", []):
                lowered = name.decode("latin-1").lower()
                if lowered == "content-type":
                    self.media_type = value.decode("latin-1")
                elif lowered in _REPLAYED_HEADERS:
                    self.headers[lowered] = value.decode("latin-1")
            return False
        if message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            return not message.get("more_body", False)
        return False


class Idempotent:
    """One request that carries an ``Idempotency-Key`` on a creating route."""

    def __init__(
        self, db: Database, policy: IdempotencyPolicy, key_id: str, key: str, digest: bytes
    ) -> None:
        self.db = db
        self.policy = policy
        self.key_id = key_id
        self.key = key
        self.digest = digest

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        deadline = time.monotonic() + self.policy.wait_s
        while True:
            if await self._claim():
                await self._execute(app, scope, receive, send)
                return
            answer = await self._stored()
            if answer is None:
                continue  # released meanwhile: claim it again
            if answer.request_hash != self.digest:
                await self._refuse(scope, send, self._reused())
                return
            if answer.status is not None:
                await _replay(answer, send)
                return
            if time.monotonic() >= deadline:
                await self._refuse(scope, send, self._in_progress())
                return
            await asyncio.sleep(_POLL_S)

    async def _claim(self) -> bool:
        async with self.db.session() as session:
            return await repository.claim(
                session,
                self.key_id,
                self.key,
                self.digest,
                lock_s=self.policy.lock_s,
                ttl_s=self.policy.ttl_s,
            )

    async def _stored(self) -> StoredAnswer | None:
        async with self.db.session() as session:
            return await repository.stored(session, self.key_id, self.key)

    async def _execute(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        captured = _Captured()

        async def hold(message: Message) -> None:
            if captured.keep(message):
                await self._settle(captured)
                for held in captured.messages:
                    await send(held)
                captured.messages.clear()

        try:
            await app(scope, receive, hold)
        except BaseException:
            await self._release()
            raise

    async def _settle(self, captured: _Captured) -> None:
        try:
            await self._store(captured)
        except Exception as exc:  # the answer stands; the key stays held until `lock_s`
            log.error("idempotency.store_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    async def _store(self, captured: _Captured) -> None:
        async with self.db.session() as session:
            if 200 <= captured.status < 300:
                await repository.complete(
                    session,
                    self.key_id,
                    self.key,
                    self.digest,
                    status=captured.status,
                    media_type=captured.media_type,
                    headers=captured.headers,
                    body=bytes(captured.body),
                )
            else:
                await repository.release(session, self.key_id, self.key, self.digest)

    async def _release(self) -> None:
        try:
            async with self.db.session() as session:
                await repository.release(session, self.key_id, self.key, self.digest)
        except Exception as exc:  # the key stays held until `lock_s`
            log.error("idempotency.release_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    def _reused(self) -> IdempotencyKeyReused:
        return IdempotencyKeyReused(
            f"Idempotency-Key {self.key[:64]!r} was already used for another request "
            "(another body, path or query).",
            remediation="Use a new key for a new request; resend the same request unchanged "
            "to get the first answer again.",
        )

    def _in_progress(self) -> IdempotencyInProgress:
        return IdempotencyInProgress(
            f"The first request with Idempotency-Key {self.key[:64]!r} is still running.",
            remediation="Retry after the Retry-After delay: you will get its answer.",
        )

    async def _refuse(
        self, scope: Scope, send: Send, error: IdempotencyKeyReused | IdempotencyInProgress
    ) -> None:
        headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s else None
        response = problem_response(error.status, error.problem(scope["path"]), headers)
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


async def _replay(answer: StoredAnswer, send: Send) -> None:
    headers = [(b"content-length", str(len(answer.body)).encode())]
    if answer.media_type:
        headers.append((b"content-type", answer.media_type.encode("latin-1")))
    headers += [(k.encode(), v.encode("latin-1")) for k, v in answer.headers.items()]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})
