"""The HTTP tier of the ``policy`` suite: ``POST /v1/authorize`` on a real policy-engine process.

``python -m policy_engine`` runs as a subprocess (uvicorn, uvloop, httptools — as deployed) on a
private NATS and PostgreSQL. Two agencies get a policy through ``PUT /v1/agencies/{a}/policy``:
``bench`` the 20-rule policy without its budgets (18 rules: the decision path reads and reserves
nothing in the database; the decision log is written) and ``bench-budget``
the full 20-rule policy (every request reads the agent's budget use and reserves its cost).
Each answer waits for its decision's commit in the decision log (group-committed), unless the
engine runs with the write-behind log (``policy_engine(..., durable_log=False)``).

Before timing, every request of ``CASES`` is sent once and must answer 200 with a decision.
Load comes from ``wrk`` (one thread, keep-alive, a Lua script cycling through the request
bodies; latency is wrk's, client-side) or, when wrk is not installed, from an asyncio
raw-socket generator with keep-alive. The bodies spread the cases over many agent ids, so no
agent exhausts its budget within a run. Same-run baseline: ``GET /healthz`` of the same
process at 16 connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.common import CpuMeter, Servers, interpolated_percentile
from benchmarks.policy_cases import CASES
from cortex_kit.embedded import free_port
from cortex_kit.internal_auth import SIGNATURE_HEADER, sign

HOST = "127.0.0.1"
DATABASE = "policy_bench"
READY_TIMEOUT_S = 90.0
AUTHORIZE = "/v1/authorize"
HEALTHZ = "/healthz"


# The engine accepts only signed calls (cortex_kit.internal_auth), as from the gateway.
INTERNAL_SECRET = secrets.token_urlsafe(32)


def headers(agency: str, method: str = "POST", path: str = AUTHORIZE) -> dict[str, str]:
    signature = sign(INTERNAL_SECRET, method, path.encode(), agency.encode(), b"bench")
    return {"X-Cortex-Agency": agency, "X-Cortex-Principal": "bench", SIGNATURE_HEADER: signature}


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Load:
    """One load run, measured at the client."""

    tool: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    """Non-2xx answers, timeouts and socket errors."""
    cpu_s: Mapping[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def cpu_us_per_request(self, process: str) -> float:
        return round(self.cpu_s.get(process, 0.0) / max(self.requests, 1) * 1e6, 1)

    def describe(self, label: str) -> str:
        return (
            f"[{label}] c{self.connections} {self.tool}: {self.requests} requests in "
            f"{self.seconds:.1f} s = {self.rps:,.0f}/s, p50 {self.p50_ms:.2f} ms, "
            f"p99 {self.p99_ms:.2f} ms, errors {self.errors}; CPU µs/request "
            + ", ".join(f"{name} {self.cpu_us_per_request(name):.0f}" for name in self.cpu_s)
        )


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    headers: Mapping[str, str]
    bodies: Sequence[bytes]
    """Cycled through; empty for a request without a body."""


def authorize_target(agency: str, agents: int) -> Target:
    bodies = [
        json.dumps(case.http_body(f"agent-{n}-{i}"), separators=(",", ":")).encode()
        for n in range(agents)
        for i, case in enumerate(CASES)
    ]
    return Target(
        "POST", AUTHORIZE, {**headers(agency), "Content-Type": "application/json"}, bodies
    )


HEALTHZ_TARGET = Target("GET", HEALTHZ, {}, ())


# ------------------------------------------------------------------------------------- wrk

_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, "
    .. "\\"p99_us\\": %d, \\"errors\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _lua_string(text: str) -> str:
    if "]==]" in text:
        raise ValueError("a body contains the Lua long-bracket terminator")
    return f"[==[{text}]==]"


def wrk_script(target: Target) -> str:
    lines = ["local headers = {"]
    lines += [f"  [ {_lua_string(k)} ] = {_lua_string(v)}," for k, v in target.headers.items()]
    lines.append("}")
    if target.bodies:
        lines.append("local bodies = {")
        lines += [f"  {_lua_string(body.decode())}," for body in target.bodies]
        lines.append("}")
    else:
        lines.append("local bodies = {false}")
    lines += [
        "local prepared = {}",
        # In init, not at load: wrk sets wrk.headers.Host (which wrk.format copies into a
        # headers table without one) just before it calls init. HTTP/1.1 requires Host; Go's
        # server (Cerbos) answers 400 without it, uvicorn does not mind.
        "init = function(args)",
        "  for i, body in ipairs(bodies) do",
        f"    prepared[i] = wrk.format({_lua_string(target.method)}, "
        f"{_lua_string(target.path)}, headers, body or nil)",
        "  end",
        "end",
        "local n = 0",
        "request = function()",
        "  n = n % #prepared + 1",
        "  return prepared[n]",
        "end",
    ]
    return "\n".join(lines) + "\n" + _WRK_DONE


def _wrk(
    wrk: str, base_url: str, target: Target, connections: int, seconds: float, meter: CpuMeter
) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(target))
    try:
        command = [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            script.name,
            base_url + target.path,
        ]
        meter.start()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        cpu = meter.stop()
    finally:
        os.unlink(script.name)
    found = re.search(r"^WRK_RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    result = json.loads(found.group(1))
    return Load(
        "wrk",
        connections,
        result["requests"],
        result["duration_us"] / 1e6,
        result["p50_us"] / 1000,
        result["p99_us"] / 1000,
        result["errors"],
        cpu,
    )


# ------------------------------------------------------------ asyncio fallback (no wrk)


def _raw_requests(host: str, port: int, target: Target) -> list[bytes]:
    head = f"{target.method} {target.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in target.headers.items())
    if not target.bodies:
        return [(head + "\r\n").encode()]
    return [(head + f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in target.bodies]


async def _connection(
    host: str,
    port: int,
    raw: Sequence[bytes],
    offset: int,
    deadline: float,
    latencies: list[float],
    errors: Counter[str],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = offset
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter_ns()
            writer.write(raw[n % len(raw)])
            n += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            latencies.append((time.perf_counter_ns() - started) / 1e6)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                errors["status"] += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _python_load(
    base_url: str, target: Target, connections: int, seconds: float, meter: CpuMeter
) -> Load:
    host, port = base_url.removeprefix("http://").split(":")
    raw = _raw_requests(host, int(port), target)
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def main() -> float:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _connection(host, int(port), raw, i * 7, deadline, latencies, errors)
                for i in range(connections)
            )
        )
        return time.perf_counter() - started

    meter.start()
    elapsed = asyncio.run(main())
    cpu = meter.stop()
    return Load(
        "python",
        connections,
        len(latencies),
        elapsed,
        interpolated_percentile(latencies, 50),
        interpolated_percentile(latencies, 99),
        sum(errors.values()),
        cpu,
    )


def load(base_url: str, target: Target, connections: int, seconds: float, meter: CpuMeter) -> Load:
    """Keep ``connections`` busy on ``target`` for ``seconds`` (wrk, else asyncio)."""
    wrk = shutil.which("wrk")
    if wrk is not None:
        return _wrk(wrk, base_url, target, connections, seconds, meter)
    return _python_load(base_url, target, connections, seconds, meter)


# ------------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class Service:
    url: str
    pid: int


@contextlib.contextmanager
def policy_engine(
    servers: Servers, *, durable_log: bool = True, database: str = DATABASE
) -> Iterator[Service]:
    """``python -m policy_engine`` on the private servers, ready; stopped (SIGINT) after.
    ``durable_log=False`` runs it with the write-behind decision log."""
    servers.postgres.ensure_database(database)
    port = free_port()
    env = {
        **os.environ,
        "CORTEX_POLICY_ENGINE_PORT": str(port),
        "CORTEX_POLICY_ENGINE_HOST": HOST,
        "CORTEX_POLICY_ENGINE_DATABASE_URL": servers.postgres.url(database),
        "CORTEX_POLICY_ENGINE_NATS_URL": servers.nats.url,
        "CORTEX_POLICY_ENGINE_LOG_LEVEL": "WARNING",
        "CORTEX_POLICY_ENGINE_DECISION_LOG_DURABLE": str(durable_log).lower(),
        "CORTEX_POLICY_ENGINE_INTERNAL_SECRET": INTERNAL_SECRET,
        # wrk replays the headers signed when its target was made for the whole run.
        "CORTEX_POLICY_ENGINE_INTERNAL_SIGNATURE_MAX_AGE_S": "3600",
    }
    with served_process(
        "policy_engine", port, env, servers.root / f"policy-engine-{database}.log"
    ) as proc:
        yield Service(f"http://{HOST}:{port}", proc.pid)


@contextlib.contextmanager
def served_process(
    module: str, port: int, env: Mapping[str, str], log_path: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m <module>`` serving on ``port``, ready (``/readyz``); SIGINT after (then
    SIGKILL if it lingers)."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module], env=env, stdout=log, stderr=log, cwd=cwd
        )
    try:
        wait_ready(f"http://{HOST}:{port}", proc, log_path, module.replace("_", "-"))
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], log_path: Path, name: str = "policy-engine"
) -> None:
    """Until ``url``'s ``/readyz`` answers 200; fails with the log's tail if ``proc`` exits."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                ready = client.get(url + "/readyz")
                if ready.status_code == 200:
                    return
                last = ready.text
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.1)
    raise RuntimeError(f"{name} not ready after {READY_TIMEOUT_S:.0f} s: {last}")


def publish(client: httpx.Client, url: str, agency: str, text: str) -> int:
    """``PUT`` the policy of ``agency``; its version."""
    answer = client.put(
        f"{url}/v1/agencies/{agency}/policy",
        content=text.encode(),
        headers={
            **headers(agency, "PUT", f"/v1/agencies/{agency}/policy"),
            "Content-Type": "application/yaml",
        },
    )
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"publishing {agency}: {answer.status_code} {answer.text}")
    version: int = answer.json()["version"]
    return version


def decisions(
    client: httpx.Client, url: str, agency: str, passes: int = 1
) -> tuple[Counter[str], list[float]]:
    """Every case ``passes`` times, one at a time (warms the policy cache too): the decisions
    (of the first pass) and the ``evaluated_us`` the service reports (all answers must be 200).
    """
    seen: Counter[str] = Counter()
    evaluated: list[float] = []
    for n in range(passes):
        for i, case in enumerate(CASES):
            body = case.http_body(f"warm-{n}-{i}" if n else None)
            answer = client.post(url + AUTHORIZE, json=body, headers=headers(agency))
            if answer.status_code != 200:
                raise RuntimeError(f"{case.name}: {answer.status_code} {answer.text}")
            if n == 0:
                seen[answer.json()["decision"]] += 1
            evaluated.append(float(answer.json()["evaluated_us"]))
    return seen, evaluated
