"""Restart backoff of supervised processes (no NATS or PostgreSQL needed)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from cortex_kit.embedded import free_port
from cortex_sdk.supervisor import Backoff, Child, ChildSpec, Supervisor

FLAKY_SERVICE = """
import http.server, os, sys

if os.path.exists(os.environ["CRASH_FLAG"]):
    sys.exit(3)


class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Ready).serve_forever()
"""


class Flaky:
    """One supervised process that crashes on start while its crash flag exists."""

    def __init__(self, directory: Path, backoff: Backoff) -> None:
        script = directory / "flaky.py"
        script.write_text(FLAKY_SERVICE)
        self.crash_flag = directory / "crash"
        port = free_port()
        spec = ChildSpec(
            name="flaky",
            argv=(sys.executable, str(script)),
            env={**os.environ, "PORT": str(port), "CRASH_FLAG": str(self.crash_flag)},
            ready_url=f"http://127.0.0.1:{port}/readyz",
        )
        self.notices: list[str] = []
        self.supervisor = Supervisor(
            [spec],
            output=lambda _name, _stream, _line: None,
            notice=lambda _name, message: self.notices.append(message),
            backoff=backoff,
        )

    @property
    def child(self) -> Child:
        return self.supervisor.children["flaky"]

    def delays(self) -> list[float]:
        return [
            float(m[1]) for n in self.notices if (m := re.search(r"restarting in ([\d.]+)s", n))
        ]

    async def answers(self) -> bool:
        async with httpx.AsyncClient(trust_env=False) as client:
            try:
                return (await client.get(self.child.spec.ready_url)).status_code == 200
            except httpx.HTTPError:
                return False

    async def recovered(self, within: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not await self.answers():
            assert asyncio.get_running_loop().time() < deadline, "did not recover in time"
            await asyncio.sleep(0.02)

    def kill(self) -> None:
        assert self.child.pid is not None
        os.kill(self.child.pid, signal.SIGKILL)


async def eventually(check: Callable[[], object], within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def flaky(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Flaky]:
    backoff = getattr(request, "param", Backoff(initial=0.05, maximum=0.4, reset_after=60))
    process = Flaky(tmp_path, backoff)
    await process.supervisor.start(ready_timeout=20)
    yield process
    await process.supervisor.stop(grace=5)


async def test_restart_delay_doubles_up_to_the_maximum(flaky: Flaky) -> None:
    flaky.crash_flag.touch()

    flaky.kill()
    await eventually(lambda: len(flaky.delays()) >= 6)

    assert flaky.delays()[:6] == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
    assert "exited with code 3" in flaky.notices[-1]


async def test_a_recovered_process_answers_again(flaky: Flaky) -> None:
    flaky.crash_flag.touch()
    flaky.kill()
    await eventually(lambda: len(flaky.delays()) >= 3)

    flaky.crash_flag.unlink()

    await flaky.recovered()
    assert flaky.notices[0].startswith("was killed by SIGKILL")


@pytest.mark.parametrize(
    "flaky", [Backoff(initial=0.05, maximum=0.4, reset_after=0.5)], indirect=True
)
async def test_restart_delay_resets_after_a_healthy_period(flaky: Flaky) -> None:
    flaky.crash_flag.touch()
    flaky.kill()
    await eventually(lambda: len(flaky.delays()) >= 4)  # the delay has grown to 0.4 s
    flaky.crash_flag.unlink()
    await flaky.recovered()
    await asyncio.sleep(0.7)

    flaky.kill()
    await eventually(lambda: len(flaky.delays()) >= 5)

    assert flaky.delays()[3:5] == [0.4, 0.05]
