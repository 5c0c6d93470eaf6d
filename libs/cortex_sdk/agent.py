"""The agent runtime: an agent registers, heartbeats, follows its desired revision, asks before
acting (docs/agents.md).

    async with AgentRuntime(client, "agent-1", {"team": "payments"}, "python-3.12",
                            apply=load_revision, health=check, revision="rev-1") as agent:
        decision = await agent.authorize({"type": "refund.create", "resource": "order/42"})

:class:`AgentRuntime` runs two loops on the caller's event loop: a heartbeat every
``heartbeat_s`` (applied revision, healthy, health details) and a long-poll of the desired
revision (``known=<applied>&wait=30``). A new desired revision is handed to ``apply``; once it
returns, the revision counts as applied and is reported at once (an extra heartbeat), so a
rollout sees it without waiting for the next beat. If ``apply`` raises, the agent keeps the
revision it ran, reports itself unhealthy (``apply_error`` in its health) and waits for the
desired revision to move (a rollback, or a new revision) before applying again. A gateway that
is down or failing (5xx, no connection) is retried with exponential backoff; no error ends
the loops — only :meth:`AgentRuntime.stop` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from cortex_sdk.client import MAX_WAIT_S, ApiError, ApprovalResult, CortexClient

__all__ = ["AgentRuntime", "Desired", "Health", "HealthValue", "Retry"]

log = logging.getLogger("cortex_sdk.agent")
HealthValue = bool | int | float | str


@dataclass(frozen=True, slots=True)
class Desired:
    """A revision the agent should run, handed to ``apply``; ``previous`` is the one it runs."""

    revision: str
    previous: str


@dataclass(frozen=True, slots=True)
class Health:
    """What ``health`` answers: healthy or not, and flat details and metrics the gate reads."""

    healthy: bool
    details: Mapping[str, HealthValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Retry:
    """Exponential backoff with full jitter between ``first_s`` and ``max_s``."""

    first_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_s, self.first_s * 2 ** min(attempt, 30)))


Apply = Callable[[Desired], Awaitable[None] | None]
HealthCheck = Callable[[], Health | Awaitable[Health]]
_RETRIED = frozenset({429, 502, 503, 504})
KEEPALIVE_S = 3.0
"""Idle pooled connections are dropped before the gateway's uvicorn drops them (5 s): reusing
one it is closing fails the call (``ReadError``)."""


def pool_limits(connections: int) -> httpx.Limits:
    """The connection pool of runtimes: ``connections`` kept alive, for ``KEEPALIVE_S``."""
    return httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=KEEPALIVE_S,
    )


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.status >= 500 or exc.status in _RETRIED
    return isinstance(exc, httpx.TransportError)


def _problem(resp: httpx.Response) -> ApiError:
    try:
        body = resp.json()
    except ValueError:
        body = {"code": "http_error", "detail": resp.text[:500]}
    return ApiError(resp.status_code, body if isinstance(body, dict) else {})


class AgentRuntime:
    """One agent's registration, heartbeats, desired-revision long-poll, authorize calls.

    ``client`` names the gateway and the agent's API key (role ``agent``); ``http`` shares an
    ``httpx.AsyncClient`` between runtimes (a fleet in one process); ``agency`` only for an
    org-wide key; ``on_heartbeat(seconds, acknowledged)`` sees each heartbeat's round trip;
    ``registered=True`` skips the registration (an agent registered in bulk beforehand);
    ``limiter`` bounds the calls in flight of runtimes that share it (long-polls apart)."""

    def __init__(
        self,
        client: CortexClient,
        agent_id: str,
        labels: Mapping[str, str],
        runtime: str,
        apply: Apply,
        health: HealthCheck,
        heartbeat_s: float = 10.0,
        *,
        revision: str = "initial",
        agency: str | None = None,
        wait_s: float = MAX_WAIT_S,
        retry: Retry | None = None,
        http: httpx.AsyncClient | None = None,
        on_heartbeat: Callable[[float, bool], None] | None = None,
        registered: bool = False,
        limiter: asyncio.Semaphore | None = None,
    ) -> None:
        self.client = client
        self.agent_id = agent_id
        self.labels = dict(labels)
        self.runtime = runtime
        self.applied_revision = revision
        self.heartbeat_s = heartbeat_s
        self.wait_s = min(wait_s, MAX_WAIT_S)
        self.heartbeats_sent = 0
        self.heartbeats_acknowledged = 0
        self.heartbeats_in_flight = 0
        self._on_heartbeat = on_heartbeat
        self.registered = asyncio.Event()
        if registered:  # registered in bulk beforehand (a benchmark's fleet)
            self.registered.set()
        self._apply = apply
        self._health = health
        self._agency = agency
        self._retry = retry or Retry()
        self._http = http
        self._limiter = limiter
        self._rtt_s = 0.0  # the last call's round trip (not its wait for the limiter)
        self._own_http = http is None
        self._path = f"/v1/agents/{quote(agent_id, safe='')}"
        self._failed: tuple[str, str] | None = None  # (revision, error) of a failed apply
        self._beat_now = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> AgentRuntime:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start(self, *, poll: bool = True, delay_s: float = 0.0) -> None:
        """Run the loops in the background (``poll=False``: heartbeats only), after
        ``delay_s``."""
        if self._task is None:
            self._task = asyncio.create_task(
                self.run(poll=poll, delay_s=delay_s), name=f"agent:{self.agent_id}"
            )

    async def run(self, *, poll: bool = True, delay_s: float = 0.0) -> None:
        """Register, then heartbeat and follow the desired revision until :meth:`stop`."""
        self._task = self._task or asyncio.current_task()
        try:
            if delay_s > 0:
                await self._pause(delay_s)
            if not self.registered.is_set() and not await self._register():
                return
            loops = [self._heartbeats()] + ([self._follow()] if poll else [])
            await asyncio.gather(*loops)
        finally:
            if self._own_http and self._http is not None:
                await self._http.aclose()
                self._http = None

    async def stop(self) -> None:
        """End the loops (an in-flight long-poll is cancelled) and wait for them."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # --- what an agent does -------------------------------------------------------------

    async def authorize(self, action: str | Mapping[str, Any], **request: Any) -> dict[str, Any]:
        """Ask the policy engine before acting (``POST /v1/authorize``): ``action`` is an
        action type or the whole action (``type``, ``resource``, ``data_class``, …);
        ``request`` adds ``payload``, ``context``, ``deployment_id``, ``approval_id``, ``team``.
        Answers ``{decision: allow|deny|require_approval, reasons, approval?, …}``."""
        body: dict[str, Any] = {
            "agent_id": self.agent_id,
            "action": {"type": action} if isinstance(action, str) else dict(action),
            **request,
        }
        result: dict[str, Any] = await self._call("POST", "/v1/authorize", json=body)
        return result

    async def wait_for_approval(self, approval_id: str, timeout_s: float = 600.0) -> ApprovalResult:
        """Long-poll an approval until it is decided (:meth:`CortexClient.wait_for_approval`,
        in a thread so the loops keep running). The request an ``authorize`` answer names
        reaches the approval workflow by event a moment later: ``approval_not_found`` is asked
        again until it arrives (or the time is up)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = max(deadline - time.monotonic(), 0.0)
            try:
                return await asyncio.to_thread(
                    self.client.wait_for_approval, approval_id, left, agency=self._agency
                )
            except ApiError as exc:
                if exc.code != "approval_not_found" or left <= 0:
                    raise
            await self._pause(min(0.25, left))

    def report_now(self) -> None:
        """Send a heartbeat now (e.g. after the agent's health changed)."""
        self._beat_now.set()

    # --- the loops ----------------------------------------------------------------------

    async def _register(self) -> bool:
        body = {
            "id": self.agent_id,
            "labels": self.labels,
            "runtime": self.runtime,
            "current_revision": self.applied_revision,
        }
        attempt = 0
        while not self._stopping.is_set():
            try:
                await self._call("POST", "/v1/agents", json=body)
            except Exception as exc:  # never ends the loop (a garbled answer included)
                log.warning("agent.register_failed %s: %s", self.agent_id, exc)
                await self._pause(self._retry.delay(attempt) if _retryable(exc) else 30.0)
                attempt += 1
                continue
            self.registered.set()
            return True
        return False

    async def _heartbeats(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            failures = 0 if await self._heartbeat() else failures + 1
            # a failed beat is sent again sooner (backoff), never later than the next one
            wait = min(self._retry.delay(failures), self.heartbeat_s) if failures else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), wait or self.heartbeat_s)
            self._beat_now.clear()

    async def _heartbeat(self) -> bool:
        body = await self._report()
        self.heartbeats_sent += 1
        self.heartbeats_in_flight += 1
        self._rtt_s = 0.0
        ok = False
        try:
            await self._call("POST", f"{self._path}/heartbeat", json=body)
            ok = True
        except ApiError as exc:
            log.warning("agent.heartbeat_refused %s: %s", self.agent_id, exc)
            if exc.code == "agent_not_found":  # the registry lost it: register again
                await self._register()
            return not _retryable(exc)
        except Exception as exc:  # transport errors, a garbled answer: never ends the loop
            log.warning("agent.heartbeat_failed %s: %r", self.agent_id, exc)
            return False
        finally:
            self.heartbeats_in_flight -= 1
            if self._on_heartbeat is not None:
                self._on_heartbeat(self._rtt_s, ok)
        self.heartbeats_acknowledged += 1
        return True

    async def _report(self) -> dict[str, Any]:
        try:
            health = self._health()
            reading = await health if inspect.isawaitable(health) else health
            healthy, details = reading.healthy, dict(reading.details)
        except Exception as exc:  # a broken health check is an unhealthy agent, not a crash
            healthy, details = False, {"health_error": f"{type(exc).__name__}: {exc}"[:1000]}
        if self._failed is not None:
            revision, error = self._failed
            healthy = False
            details |= {"apply_error": error, "apply_failed_revision": revision}
        return {"applied_revision": self.applied_revision, "healthy": healthy, "health": details}

    async def _follow(self) -> None:
        await self.registered.wait()
        attempt = 0
        while not self._stopping.is_set():
            known = self._failed[0] if self._failed else self.applied_revision
            try:
                answer = await self._call(
                    "GET",
                    f"{self._path}/desired",
                    params={"known": known, "wait": f"{self.wait_s:g}"},
                    extra_timeout_s=self.wait_s,
                    held=True,
                )
            except Exception as exc:  # never ends the loop (a garbled answer included)
                log.warning("agent.poll_failed %s: %r", self.agent_id, exc)
                await self._pause(self._retry.delay(attempt) if _retryable(exc) else 30.0)
                attempt += 1
                continue
            attempt = 0
            desired = answer.get("desired_revision") if isinstance(answer, dict) else None
            if desired is None:
                log.warning("agent.poll_garbled %s: %r", self.agent_id, answer)
                await self._pause(self._retry.max_s)
                continue
            await self._converge(str(desired))

    async def _converge(self, desired: str) -> None:
        if desired == self.applied_revision:
            if self._failed is not None:  # rolled back to what it runs: healthy again
                self._failed = None
                self._beat_now.set()
            return
        if self._failed is not None and self._failed[0] == desired:
            return
        try:
            outcome = self._apply(Desired(desired, self.applied_revision))
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as exc:  # the agent keeps running what it ran, and says why
            log.warning("agent.apply_failed %s %s: %s", self.agent_id, desired, exc)
            self._failed = (desired, f"{type(exc).__name__}: {exc}"[:1000])
        else:
            self.applied_revision = desired
            self._failed = None
        self._beat_now.set()

    # --- HTTP ---------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.client.url, timeout=self.client.timeout_s, limits=pool_limits(4)
            )
        return self._http

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        extra_timeout_s: float = 0.0,
        held: bool = False,
    ) -> Any:
        if self._limiter is None or held:
            return await self._send(method, path, json, params, extra_timeout_s)
        async with self._limiter:
            return await self._send(method, path, json, params, extra_timeout_s)

    async def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, str] | None,
        extra_timeout_s: float,
    ) -> Any:
        query = dict(params or {})
        if self._agency:
            query["agency"] = self._agency
        headers = {"Authorization": f"Bearer {self.client.api_key}"} if self.client.api_key else {}
        sent_at = time.perf_counter()
        try:
            resp = await self._client().request(
                method,
                path,
                json=json,
                params=query,
                headers=headers,
                timeout=self.client.timeout_s + extra_timeout_s,
            )
        finally:
            self._rtt_s = time.perf_counter() - sent_at
        if resp.status_code >= 400:
            raise _problem(resp)
        return resp.json() if resp.content else None

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
