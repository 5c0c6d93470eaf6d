"""Run child processes, stream their output, wait until they are ready, restart them on exit.

Each child runs in its own process group (a Ctrl-C in the terminal reaches only `cortex up`,
which then stops the children in order) and, on Linux, gets SIGTERM if `cortex up` dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = ["Backoff", "Child", "ChildSpec", "NotReadyError", "Supervisor"]

# (process name, "stdout" | "stderr", line) and (process name, message from the supervisor)
OutputSink = Callable[[str, str, str], None]
NoticeSink = Callable[[str, str], None]

TAIL_LINES = 20
_LINE_LIMIT = 1 << 20
_POLL_INTERVAL = 0.1
_EXIT_SPAWN_FAILED = 127


def describe_exit(code: int | None) -> str:
    """'exited with code 1' or, for a signal, 'was killed by SIGKILL'."""
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class NotReadyError(Exception):
    """A child exited or did not answer `/readyz` with 200 in time."""


@dataclass(frozen=True)
class Backoff:
    """Restart delays: `initial`, doubling up to `maximum`; reset after `reset_after` s up."""

    initial: float = 0.5
    maximum: float = 30.0
    reset_after: float = 60.0


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    ready_url: str


class Child:
    """One supervised process, restarted with backoff once the cluster is up."""

    def __init__(
        self, spec: ChildSpec, *, output: OutputSink, notice: NoticeSink, backoff: Backoff
    ) -> None:
        self.spec = spec
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.restarts = 0
        self._output = output
        self._notice = notice
        self._backoff = backoff
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._failed = asyncio.Event()  # exited while the cluster was starting
        self._failed_code: int | None = None
        self._supervising = False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def failed(self) -> bool:
        return self._failed.is_set()

    def launch(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"supervise {self.spec.name}")

    def supervise(self) -> None:
        """From now on an exit means a restart instead of a failed start-up."""
        self._supervising = True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._backoff.initial
        while not self._stopping.is_set():
            started = loop.time()
            code = await self._run_once()
            uptime = loop.time() - started
            if self._stopping.is_set():
                return
            if not self._supervising:
                self._failed_code = code
                self._failed.set()
                return
            if uptime >= self._backoff.reset_after:
                delay = self._backoff.initial
            self._notice(
                self.spec.name,
                f"{describe_exit(code)} after {uptime:.1f}s; restarting in {delay:g}s",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self._backoff.maximum)
            self.restarts += 1

    async def _run_once(self) -> int:
        from cortex_kit.embedded import die_with_parent

        try:
            proc = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                env=dict(self.spec.env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGTERM),
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            self._notice(self.spec.name, f"cannot start {self.spec.argv[0]}: {exc}")
            return _EXIT_SPAWN_FAILED
        self._proc = proc
        if self._stopping.is_set():
            self.signal(signal.SIGTERM)
        elif self.restarts:
            self._notice(self.spec.name, f"restarted (pid {proc.pid})")
        assert proc.stdout is not None
        assert proc.stderr is not None
        pumps = [
            asyncio.create_task(self._pump(proc.stdout, "stdout")),
            asyncio.create_task(self._pump(proc.stderr, "stderr")),
        ]
        code = await proc.wait()
        # Whatever the child left in its process group goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        _, unfinished = await asyncio.wait(pumps, timeout=2)
        for pump in unfinished:
            pump.cancel()
        return code

    async def _pump(self, stream: asyncio.StreamReader, stream_name: str) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the limit; asyncio has dropped it
                continue
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.tail.append(line)
            self._output(self.spec.name, stream_name, line)

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the child's whole process group."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

    async def wait_ready(self, client: httpx.AsyncClient, within: float) -> None:
        """Poll `GET ready_url` until 200; NotReadyError on exit or after `within` seconds."""
        import httpx

        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last = "no answer"
        while True:
            if self._failed.is_set():
                raise NotReadyError(
                    f"{self.spec.name} {describe_exit(self._failed_code)} before it became "
                    f"ready{self.tail_text()}"
                )
            try:
                response = await client.get(self.spec.ready_url)
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            if loop.time() >= deadline:
                raise NotReadyError(
                    f"{self.spec.name} did not become ready within {within:g}s "
                    f"(GET {self.spec.ready_url}: {last}){self.tail_text()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._failed.wait(), _POLL_INTERVAL)

    def tail_text(self) -> str:
        """Its last output lines, for error messages."""
        if not self.tail:
            return "; it printed nothing"
        lines = "\n".join(f"    {line}" for line in self.tail)
        return f"; its last lines:\n{lines}"

    async def stop(self, grace: float) -> None:
        """SIGTERM the process group, wait up to `grace` seconds, then SIGKILL it."""
        self._stopping.set()
        task = self._task
        if task is None:
            return
        self.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            self._notice(self.spec.name, f"still running after {grace:g}s; killing it")
            self.signal(signal.SIGKILL)
            await task


class Supervisor:
    """Starts a set of children, waits until all are ready, and keeps them running."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        output: OutputSink,
        notice: NoticeSink,
        backoff: Backoff | None = None,
    ) -> None:
        policy = backoff or Backoff()
        self.children = {
            spec.name: Child(spec, output=output, notice=notice, backoff=policy) for spec in specs
        }

    async def start(self, ready_timeout: float) -> None:
        """Start every child and wait for all to be ready; NotReadyError names those that fail."""
        import httpx

        for child in self.children.values():
            child.launch()
        async with httpx.AsyncClient(trust_env=False, timeout=2.0) as client:
            waits = [
                asyncio.create_task(child.wait_ready(client, ready_timeout))
                for child in self.children.values()
            ]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for wait in waits:
                    wait.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        problems: list[str] = []
        for child, wait in zip(self.children.values(), waits, strict=True):
            if wait.cancelled():
                continue
            if (exc := wait.exception()) is not None:
                problems.append(str(exc))
            elif child.failed:  # it was ready, then exited while the others were starting
                problems.append(f"{child.spec.name} exited during start-up{child.tail_text()}")
        if problems:
            raise NotReadyError("\n".join(problems))
        for child in self.children.values():
            child.supervise()

    async def stop(self, grace: float) -> None:
        """Stop every child: SIGTERM, up to `grace` seconds, then SIGKILL."""
        await asyncio.gather(*(child.stop(grace) for child in self.children.values()))

    def kill(self) -> None:
        """SIGKILL every child now (a second Ctrl-C)."""
        for child in self.children.values():
            child.signal(signal.SIGKILL)
