"""End to end, as a user runs it: `cortex up` in a subprocess, then the CLI against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from cortex_kit.embedded import free_port
from cortex_sdk.processes import PROCESSES

pytestmark = pytest.mark.e2e

ADMIN_KEY = "cvc_e2e0e2e0e2e0_" + "E" * 43
CORTEX = str(Path(sys.executable).parent / "cortex")


class RunningCluster:
    def __init__(self, data_dir: Path) -> None:
        self.ports = {spec.name: free_port() for spec in PROCESSES}
        self.nats_port = free_port()
        self.postgres_port = free_port()
        self.env = {
            **os.environ,
            "CORTEX_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "CORTEX_DATA_DIR": str(data_dir),
            "CORTEX_NATS_PORT": str(self.nats_port),
            "CORTEX_POSTGRES_PORT": str(self.postgres_port),
            **{spec.port_envvar: str(self.ports[spec.name]) for spec in PROCESSES},
        }
        self.log = data_dir.parent / f"{data_dir.name}-up.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [CORTEX, "up"], env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 90.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"cortex up exited {self.proc.returncode}:\n{self.output()}")
            if b"is up" in self.log.read_bytes() and self._all_ready():
                return time.monotonic() - started
            time.sleep(0.25)
        pytest.fail(f"cluster not ready in {timeout}s:\n{self.output()}")

    def _all_ready(self) -> bool:
        try:
            return all(
                httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
                for port in self.ports.values()
            )
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "CORTEX_URL": self.url, "CORTEX_API_KEY": ADMIN_KEY}
        return subprocess.run(
            [CORTEX, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
        )

    def descendants(self) -> list[psutil.Process]:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).children(recursive=True)

    def interrupt(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


@pytest.fixture
def running(cortex_data_dir: Path) -> Iterator[RunningCluster]:
    cluster = RunningCluster(cortex_data_dir)
    cluster.start()
    try:
        yield cluster
    finally:
        if cluster.proc is not None and cluster.proc.poll() is None:
            cluster.proc.kill()
            cluster.proc.wait()


def test_cortex_up_serves_the_whole_flow_and_stops_cleanly(running: RunningCluster) -> None:
    ready_after = running.wait_ready()
    print(f"cluster ready after {ready_after:.1f}s")
    children = running.descendants()
    # NATS, PostgreSQL (and its workers) and the six processes
    assert {"nats-server", "postgres"} <= {c.name() for c in children}
    modules = {spec.module for spec in PROCESSES}
    cmdlines = [" ".join(c.cmdline()) for c in children if c.is_running()]
    assert all(any(f"-m {m}" in cmd for cmd in cmdlines) for m in modules)

    created = running.cli("--json", "keys", "create", "--agency", "acme", "--role", "deployer")
    assert created.returncode == 0, created.stderr
    deployer_key = json.loads(created.stdout)["key"]

    event = {
        "type": "deployment",
        "id": "d-e2e",
        "service": "checkout",
        "status": "succeeded",
        "started_at": "2026-11-20T11:00:00Z",
        "finished_at": "2026-11-20T11:05:00Z",
    }
    sent = subprocess.run(
        [CORTEX, "events", "send", "-f", "-"],
        env={**running.env, "CORTEX_URL": running.url, "CORTEX_API_KEY": deployer_key},
        input=json.dumps([event]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    assert "accepted 1 event(s) for agency acme" in sent.stdout

    stored = None
    for _ in range(100):
        listed = running.cli("--json", "events", "list", "--agency", "acme")
        assert listed.returncode == 0, listed.stderr
        items = json.loads(listed.stdout)["items"]
        if items:
            stored = items[0]
            break
        time.sleep(0.1)
    assert stored is not None, running.output()
    assert stored["event_id"] == "d-e2e"
    assert stored["facts"]["status"] == "succeeded"

    # an org-wide key that names no agency: a usage error (exit 1) with the reason on stderr
    denied = running.cli("events", "send", "-f", "-", stdin=json.dumps([event]))
    assert denied.returncode == 1
    assert "agency_required" in denied.stderr

    # policies through the CLI: publish org + agency, an invalid file exits 2 with positions
    examples = Path(__file__).resolve().parents[2] / "docs" / "examples" / "policies"
    org = running.cli("policy", "apply", "--org", "-f", str(examples / "org-baseline.yaml"))
    assert org.returncode == 0, org.stderr
    acme = running.cli(
        "policy", "apply", "--agency", "acme", "-f", str(examples / "agency-acme.yaml"), "-m", "e2e"
    )
    assert acme.returncode == 0, acme.stderr
    assert "published version 1" in acme.stdout
    history = running.cli("--json", "policy", "history", "--agency", "acme")
    assert [v["message"] for v in json.loads(history.stdout)] == ["e2e"]
    broken = running.cli(
        "policy", "validate", "-f", "-", stdin="apiVersion: nope\nkind: AIPolicy\n"
    )
    assert broken.returncode == 2
    assert "-:1:" in broken.stdout

    assert running.interrupt() == 0
    time.sleep(0.5)
    survivors = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert survivors == [], [c.cmdline() for c in survivors]


def test_a_taken_port_is_a_clear_error(running: RunningCluster) -> None:
    running.wait_ready()
    second = subprocess.run(
        [CORTEX, "up"], env=running.env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 1
    assert str(running.ports["gateway"]) in second.stderr + second.stdout
    assert "already in use" in second.stderr + second.stdout
