"""A simulated fleet: N :class:`~cortex_sdk.agent.AgentRuntime` in one process, for tests and
benchmarks (docs/agents.md "A simulated fleet").

Every agent shares one ``httpx.AsyncClient`` (one connection pool), its health is scripted
(:meth:`Fleet.set_healthy`), and each revision it applies is recorded with the time it was
applied (:attr:`Fleet.applied`), so a test or a benchmark can see a rollout land.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from cortex_sdk.agent import AgentRuntime, Desired, Health, Retry, pool_limits
from cortex_sdk.client import MAX_WAIT_S, CortexClient

__all__ = ["Applied", "Fleet"]


@dataclass(frozen=True, slots=True)
class Applied:
    """One revision an agent applied, and when (``time.monotonic()`` and ``time.time()``)."""

    agent_id: str
    revision: str
    previous: str
    monotonic: float
    wall: float


@dataclass
class _Script:
    healthy: bool = True
    details: dict[str, bool | int | float | str] = field(default_factory=dict)
    fail_apply: set[str] = field(default_factory=set)


class Fleet:
    """``size`` agents ``<prefix>0000…``, labelled by ``labels(index)``, all on ``revision``.

    ``poll=False`` runs heartbeats only (no long-poll per agent: 10,000 agents would hold
    10,000 connections). ``on_apply`` is called after each apply (the benchmark's clock).
    ``http``: the pool to use instead of one made here (closed by :meth:`stop` either way);
    ``registered=True``: the agents were registered in bulk beforehand (no POST each);
    ``max_in_flight``: calls in flight at once, long-polls apart (the others wait their turn)."""

    def __init__(
        self,
        client: CortexClient,
        size: int,
        *,
        prefix: str = "sim-",
        labels: Callable[[int], Mapping[str, str]] = lambda _: {"fleet": "sim"},
        runtime: str = "simulated",
        revision: str = "rev-0",
        heartbeat_s: float = 10.0,
        poll: bool = True,
        wait_s: float = MAX_WAIT_S,
        agency: str | None = None,
        retry: Retry | None = None,
        on_apply: Callable[[Applied], Awaitable[None] | None] | None = None,
        http: httpx.AsyncClient | None = None,
        on_heartbeat: Callable[[float, bool], None] | None = None,
        registered: bool = False,
        max_in_flight: int = 64,
    ) -> None:
        width = max(4, len(str(size - 1)))
        self.ids = [f"{prefix}{i:0{width}d}" for i in range(size)]
        self.applied: list[Applied] = []
        self.poll = poll
        self.sick_revisions: set[str] = set()
        """Revisions every agent reports unhealthy on, from the heartbeat right after applying
        one (a bad revision, as a benchmark or a test scripts it)."""
        self._scripts = {agent_id: _Script() for agent_id in self.ids}
        self._on_apply = on_apply
        # Calls beyond max_in_flight wait on a semaphore, not in httpx's pool (whose queue costs
        # CPU per queued request on every change); each long-poll holds a connection of its own.
        self.limiter = asyncio.Semaphore(max_in_flight)
        connections = max_in_flight + (size if poll else 0)
        self.http = http or httpx.AsyncClient(
            base_url=client.url,
            timeout=client.timeout_s,
            limits=pool_limits(connections),
        )
        self.agents = {
            agent_id: AgentRuntime(
                client,
                agent_id,
                labels(i),
                runtime,
                apply=self._applier(agent_id),
                health=self._checker(agent_id),
                heartbeat_s=heartbeat_s,
                revision=revision,
                agency=agency,
                wait_s=wait_s,
                retry=retry,
                http=self.http,
                on_heartbeat=on_heartbeat,
                registered=registered,
                limiter=self.limiter,
            )
            for i, agent_id in enumerate(self.ids)
        }

    # --- scripting ----------------------------------------------------------------------

    def set_healthy(self, agent_ids: Iterable[str], healthy: bool, **details: str) -> None:
        """Script the health the agents report from their next heartbeat on."""
        for agent_id in agent_ids:
            script = self._scripts[agent_id]
            script.healthy, script.details = healthy, dict(details)

    def fail_apply(self, agent_ids: Iterable[str], revision: str) -> None:
        """Make ``apply`` of ``revision`` raise on these agents."""
        for agent_id in agent_ids:
            self._scripts[agent_id].fail_apply.add(revision)

    def report_now(self, agent_ids: Iterable[str] | None = None) -> None:
        for agent_id in self.ids if agent_ids is None else agent_ids:
            self.agents[agent_id].report_now()

    def _applier(self, agent_id: str) -> Callable[[Desired], Awaitable[None]]:
        async def apply(desired: Desired) -> None:
            if desired.revision in self._scripts[agent_id].fail_apply:
                raise RuntimeError(f"scripted failure applying {desired.revision}")
            applied = Applied(
                agent_id, desired.revision, desired.previous, time.monotonic(), time.time()
            )
            self.applied.append(applied)
            if self._on_apply is not None:
                outcome = self._on_apply(applied)
                if outcome is not None:
                    await outcome

        return apply

    def _checker(self, agent_id: str) -> Callable[[], Health]:
        script = self._scripts[agent_id]

        def check() -> Health:
            sick = self.agents[agent_id].applied_revision in self.sick_revisions
            return Health(script.healthy and not sick, script.details)

        return check

    # --- running ------------------------------------------------------------------------

    async def start(self, *, stagger_s: float = 0.0) -> None:
        """Start every agent, spread evenly over ``stagger_s`` (so heartbeats do not arrive
        all at once), and wait until all are registered."""
        step = stagger_s / len(self.ids) if self.ids else 0.0
        for i, agent in enumerate(self.agents.values()):
            agent.start(poll=self.poll, delay_s=i * step)
        await asyncio.sleep(stagger_s)
        await asyncio.gather(*(agent.registered.wait() for agent in self.agents.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(agent.stop() for agent in self.agents.values()))
        await self.http.aclose()

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def revisions(self) -> dict[str, str]:
        """The revision each agent runs now."""
        return {agent_id: agent.applied_revision for agent_id, agent in self.agents.items()}

    def heartbeats(self) -> tuple[int, int, int]:
        """Heartbeats sent, acknowledged (2xx) and still in flight, by every agent so far."""
        agents = self.agents.values()
        return (
            sum(a.heartbeats_sent for a in agents),
            sum(a.heartbeats_acknowledged for a in agents),
            sum(a.heartbeats_in_flight for a in agents),
        )
