"""`cortex up`: option resolution, the process environment, the admin key, and supervision.

Supervision is exercised with stand-in processes (a tiny http.server answering /readyz) in
place of the real services, against real NATS and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import nats
import psutil
import pytest
import pytest_asyncio
from click.testing import CliRunner

from cortex_kit.embedded import free_port
from cortex_sdk.admin_key import AdminKeyError, load_admin_key
from cortex_sdk.cli import cli
from cortex_sdk.cluster_secrets import ClusterSecrets, load_cluster_secrets
from cortex_sdk.console import Console
from cortex_sdk.processes import PROCESSES, ProcessSpec
from cortex_sdk.supervisor import Backoff
from cortex_sdk.up import (
    Cluster,
    UpConfig,
    UpError,
    check_ports,
    config_from_params,
    process_env,
    up,
)

FAKE_SERVICE = """
import http.server, json, os, signal, sys, time

PREFIX = {prefix!r}
MODE = {mode!r}
print(f"starting as pid {{os.getpid()}}", flush=True)
if MODE == "crash":
    raise SystemExit("fake crash: no configuration")
if MODE == "stuck":
    print("waiting for something that never comes", flush=True)
    time.sleep(3600)
if MODE == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        env = {{k: v for k, v in os.environ.items() if k.startswith("CORTEX_")}}
        body = {{"/readyz": b"ready", "/env": json.dumps(env).encode()}}.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


address = (os.environ[PREFIX + "HOST"], int(os.environ[PREFIX + "PORT"]))
http.server.ThreadingHTTPServer(address, Handler).serve_forever()
"""


def fake_processes(directory: Path, **modes: str) -> list[ProcessSpec]:
    """Stand-in processes, one module each, on free ports; mode: ok|crash|stuck|stubborn."""
    specs = []
    for name, mode in modes.items():
        prefix = f"CORTEX_{name.upper()}_"
        (directory / f"fake_{name}.py").write_text(FAKE_SERVICE.format(prefix=prefix, mode=mode))
        specs.append(ProcessSpec(name, f"fake_{name}", prefix, free_port()))
    return specs


def make_config(data_dir: Path, **overrides: object) -> UpConfig:
    settings: dict[str, object] = {
        "data_dir": data_dir,
        "nats_port": free_port(),
        "postgres_port": free_port(),
        "ready_timeout": 20.0,
        "stop_timeout": 5.0,
        "backoff": Backoff(initial=0.1, maximum=1.0),
    }
    return UpConfig(**(settings | overrides))  # type: ignore[arg-type]


@pytest.fixture
def fakes_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.get(url)


async def eventually(check: Callable[[], object], within: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def answers_ready(url: str, within: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        try:
            if (await get(url)).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.05)
    return False


def process_tree(pid: int) -> list[int]:
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if psutil.pid_exists(pid) and not _zombie(pid)]


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# ------------------------------------------------------------------------- option resolution


def test_ports_default_to_the_documented_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CORTEX_"):
            monkeypatch.delenv(name)

    config = config_from_params(up.make_context("up", []).params)

    assert (config.nats_port, config.postgres_port, config.nats_monitor_port) == (
        14222,
        15432,
        None,
    )
    assert config.data_dir == Path(".cortex")
    assert {spec.name: config.port_of(spec) for spec in PROCESSES} == {
        "policy_engine": 8101,
        "metrics_collector": 8102,
        "rollout_orchestrator": 8103,
        "approval_workflow": 8104,
        "analytics": 8105,
        "gateway": 8080,
    }


def test_ports_and_data_dir_come_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEX_DATA_DIR", "/srv/cortex")
    monkeypatch.setenv("CORTEX_NATS_PORT", "24222")
    monkeypatch.setenv("CORTEX_POSTGRES_PORT", "25432")
    monkeypatch.setenv("CORTEX_ANALYTICS_PORT", "9105")
    monkeypatch.setenv("CORTEX_GATEWAY_PORT", "9080")

    config = config_from_params(up.make_context("up", []).params)

    assert config.data_dir == Path("/srv/cortex")
    assert (config.nats_port, config.postgres_port) == (24222, 25432)
    assert (config.ports["analytics"], config.ports["gateway"]) == (9105, 9080)


def test_port_flags_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEX_GATEWAY_PORT", "9080")

    params = up.make_context("up", ["--gateway-port", "7080", "--policy-engine-port", "7101"])
    config = config_from_params(params.params, json_output=True)

    assert (config.ports["gateway"], config.ports["policy_engine"]) == (7080, 7101)
    assert config.json_output


def test_check_ports_names_the_flag_and_port_that_is_taken(listener: socket.socket) -> None:
    taken = listener.getsockname()[1]
    config = make_config(Path("unused"), ports={"analytics": taken})

    with pytest.raises(UpError) as error:
        check_ports(config)

    assert f"port {taken} (--analytics-port / CORTEX_ANALYTICS_PORT) is already in use" in str(
        error.value
    )


def test_check_ports_refuses_one_port_for_two_flags() -> None:
    port = free_port()
    config = make_config(Path("unused"), nats_port=port, ports={"gateway": port})

    with pytest.raises(UpError, match=f"--nats-port and --gateway-port both ask for port {port}"):
        check_ports(config)


def test_cortex_up_with_a_taken_port_exits_1_and_starts_nothing(
    tmp_path: Path, listener: socket.socket
) -> None:
    taken = listener.getsockname()[1]
    ports = {spec.port_option: free_port() for spec in PROCESSES}
    ports["--gateway-port"] = taken
    args = ["up", "--data-dir", str(tmp_path / "data")]
    args += ["--nats-port", str(free_port()), "--postgres-port", str(free_port())]
    for option, port in ports.items():
        args += [option, str(port)]

    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 1
    assert f"port {taken} (--gateway-port / CORTEX_GATEWAY_PORT) is already in use" in result.output
    assert not (tmp_path / "data").exists()


# -------------------------------------------------------------------------- environment


SECRETS = ClusterSecrets("internal-" + "s" * 40, "fernet-key", "pg/pass word", False)


def test_every_process_gets_host_port_database_nats_and_the_internal_secret() -> None:
    config = make_config(Path("unused"), host="127.0.0.1", nats_port=14222, postgres_port=15432)
    spec = PROCESSES[0]

    env = process_env(spec, config, PROCESSES, "cvc_key", SECRETS)

    assert env == {
        "CORTEX_POLICY_ENGINE_HOST": "127.0.0.1",
        "CORTEX_POLICY_ENGINE_PORT": "8101",
        "CORTEX_POLICY_ENGINE_DATABASE_URL": (
            "postgresql+asyncpg://postgres:pg%2Fpass%20word@127.0.0.1:15432/cortex"
        ),
        "CORTEX_POLICY_ENGINE_NATS_URL": "nats://127.0.0.1:14222",
        "CORTEX_POLICY_ENGINE_INTERNAL_SECRET": SECRETS.internal_secret,
        # the engine asks the approval workflow to use approvals (docs/approvals.md)
        "CORTEX_POLICY_ENGINE_APPROVAL_WORKFLOW_URL": "http://127.0.0.1:8104",
    }


def test_the_rollout_orchestrator_is_told_where_the_policy_engine_listens() -> None:
    config = make_config(Path("unused"), ports={"policy_engine": 9101})
    orchestrator = next(spec for spec in PROCESSES if spec.name == "rollout_orchestrator")

    env = process_env(orchestrator, config, PROCESSES, "cvc_key", SECRETS)

    # it has each deployment plan evaluated (docs/rollouts.md), on whatever port it runs
    assert env["CORTEX_ROLLOUT_ORCHESTRATOR_POLICY_ENGINE_URL"] == "http://127.0.0.1:9101"


def test_the_gateway_also_gets_every_service_url_and_the_admin_key() -> None:
    config = make_config(Path("unused"), ports={"analytics": 9105})
    gateway = next(spec for spec in PROCESSES if spec.name == "gateway")

    env = process_env(gateway, config, PROCESSES, "cvc_0123456789ab_secret", SECRETS)

    assert env["CORTEX_GATEWAY_POLICY_ENGINE_URL"] == "http://127.0.0.1:8101"
    assert env["CORTEX_GATEWAY_METRICS_COLLECTOR_URL"] == "http://127.0.0.1:8102"
    assert env["CORTEX_GATEWAY_ROLLOUT_ORCHESTRATOR_URL"] == "http://127.0.0.1:8103"
    assert env["CORTEX_GATEWAY_APPROVAL_WORKFLOW_URL"] == "http://127.0.0.1:8104"
    assert env["CORTEX_GATEWAY_ANALYTICS_URL"] == "http://127.0.0.1:9105"
    assert env["CORTEX_GATEWAY_BOOTSTRAP_ADMIN_KEY"] == "cvc_0123456789ab_secret"
    assert env["CORTEX_GATEWAY_INTERNAL_SECRET"] == SECRETS.internal_secret
    assert env["CORTEX_GATEWAY_SECRETS_KEY"] == "fernet-key"


# ------------------------------------------------------------------------- cluster secrets


def test_first_start_generates_private_cluster_secrets(tmp_path: Path) -> None:
    kept = load_cluster_secrets(tmp_path)

    for name in ("internal.secret", "secrets.key", "postgres.password"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert len(kept.internal_secret) >= 32
    assert len(base64.urlsafe_b64decode(kept.secrets_key)) == 32  # a Fernet key
    assert kept.postgres_password_created
    assert kept.internal_secret not in repr(kept)


def test_later_starts_reuse_the_cluster_secrets(tmp_path: Path) -> None:
    first = load_cluster_secrets(tmp_path)
    (tmp_path / "internal.secret").chmod(0o644)

    again = load_cluster_secrets(tmp_path)

    assert (again.internal_secret, again.secrets_key) == (first.internal_secret, first.secrets_key)
    assert (again.postgres_password, again.postgres_password_created) == (
        first.postgres_password,
        False,
    )
    assert stat.S_IMODE((tmp_path / "internal.secret").stat().st_mode) == 0o600


# ---------------------------------------------------------------------------- admin key


def test_first_start_generates_a_private_admin_key(tmp_path: Path) -> None:
    key = load_admin_key(tmp_path, environ={})

    prefix, key_id, secret = key.value.split("_", 2)
    assert (prefix, len(key_id), len(secret)) == ("cvc", 12, 43)
    assert int(key_id, 16) >= 0
    assert (key.created, key.generated) == (True, True)
    assert stat.S_IMODE((tmp_path / "admin.key").stat().st_mode) == 0o600


def test_later_starts_reuse_the_saved_key(tmp_path: Path) -> None:
    first = load_admin_key(tmp_path, environ={})

    again = load_admin_key(tmp_path, environ={"CORTEX_BOOTSTRAP_ADMIN_KEY": "cvc_other_key"})

    assert (again.value, again.created) == (first.value, False)


def test_first_start_takes_the_key_from_the_environment(tmp_path: Path) -> None:
    supplied = "cvc_00000000abcd_automation-secret-0123456789abcdef"

    key = load_admin_key(tmp_path, environ={"CORTEX_BOOTSTRAP_ADMIN_KEY": supplied})

    assert (key.value, key.generated) == (supplied, False)
    assert (tmp_path / "admin.key").read_text().strip() == supplied


def test_a_malformed_bootstrap_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AdminKeyError, match=r"cvc_<12 hex>_<32 to 64 of A-Z a-z 0-9 _ ->"):
        load_admin_key(tmp_path, environ={"CORTEX_BOOTSTRAP_ADMIN_KEY": "hunter2"})
    assert not (tmp_path / "admin.key").exists()


@pytest.mark.parametrize(
    "key",
    [
        "cvc_ABCDEF012345_" + "a" * 43,  # the id is lower-case hex
        "cvc_0123456789a_" + "a" * 43,  # 11 hex
        "cvc_0123456789ab_" + "a" * 31,  # secret too short
        "cvc_0123456789ab_" + "a" * 65,  # secret too long
        "cvc_0123456789ab_" + "a" * 42 + "!",
    ],
)
def test_a_bootstrap_key_the_gateway_would_refuse_is_refused_at_start(
    tmp_path: Path, key: str
) -> None:
    with pytest.raises(AdminKeyError, match="must look exactly like"):
        load_admin_key(tmp_path, environ={"CORTEX_BOOTSTRAP_ADMIN_KEY": key})


@pytest.mark.parametrize(
    "key",
    [
        "cvc_0123456789ab_" + "A" * 43,
        "cvc_0123456789ab_" + "-" * 32,
        "cvc_0123456789ab_" + "_" * 64,
        "cvc_0123456789ab_" + "a" * 65,
        "cvc_0123456789AB_" + "a" * 43,
    ],
)
def test_cortex_up_accepts_a_bootstrap_key_exactly_when_the_gateway_does(
    tmp_path: Path, key: str
) -> None:
    from gateway.domain.keys import parse_token

    try:
        load_admin_key(tmp_path, environ={"CORTEX_BOOTSTRAP_ADMIN_KEY": key})
    except AdminKeyError:
        accepted = False
    else:
        accepted = True
    assert accepted == (parse_token(key) is not None)


def test_banner_shows_a_generated_key_only_on_first_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    console = Console(["gateway"])
    first = load_admin_key(tmp_path, environ={})

    console.banner("http://127.0.0.1:8080", first)
    console.banner("http://127.0.0.1:8080", load_admin_key(tmp_path, environ={}))

    out = capsys.readouterr().out
    assert out.count(first.value) == 1
    assert "http://127.0.0.1:8080/docs" in out
    assert f"see {tmp_path / 'admin.key'}" in out


# ---------------------------------------------------------------------------- supervision


@pytest_asyncio.fixture(scope="module")
async def running_cluster(
    tmp_path_factory: pytest.TempPathFactory, cortex_runtime_dir: Path
) -> AsyncIterator[Cluster]:
    fakes = tmp_path_factory.mktemp("fakes")
    data_dir = cortex_runtime_dir / "up-module"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(fakes))
        cluster = Cluster(make_config(data_dir), fake_processes(fakes, alpha="ok", gateway="ok"))
        try:
            await cluster.start()
            yield cluster
        finally:
            await cluster.stop()


async def test_start_returns_once_every_process_is_ready(running_cluster: Cluster) -> None:
    for spec in running_cluster.processes:
        response = await get(f"{running_cluster.config.http_url(spec)}/readyz")
        assert response.status_code == 200
    assert set(running_cluster.pids()) == {"alpha", "gateway"}


async def test_processes_reach_the_database_and_nats_they_are_given(
    running_cluster: Cluster,
) -> None:
    gateway = next(spec for spec in running_cluster.processes if spec.name == "gateway")
    env = (await get(f"{running_cluster.config.http_url(gateway)}/env")).json()

    assert env["CORTEX_GATEWAY_DATABASE_URL"].endswith(
        f":{running_cluster.config.postgres_port}/cortex"
    )
    assert env["CORTEX_GATEWAY_ALPHA_URL"] == running_cluster.config.http_url(
        running_cluster.processes[0]
    )
    assert running_cluster.admin_key is not None
    assert env["CORTEX_GATEWAY_BOOTSTRAP_ADMIN_KEY"] == running_cluster.admin_key.value
    assert running_cluster.secrets is not None
    assert env["CORTEX_GATEWAY_INTERNAL_SECRET"] == running_cluster.secrets.internal_secret
    dsn = env["CORTEX_GATEWAY_DATABASE_URL"].replace("+asyncpg", "")
    await (await asyncpg.connect(dsn)).close()
    await (await nats.connect(env["CORTEX_GATEWAY_NATS_URL"])).close()


async def test_postgres_needs_the_generated_password(running_cluster: Cluster) -> None:
    port = running_cluster.config.postgres_port
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", password="guess")
    with pytest.raises(
        (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
    ):
        await asyncpg.connect(host="127.0.0.1", port=port, user="postgres")


async def test_a_killed_process_is_restarted(running_cluster: Cluster) -> None:
    assert running_cluster.supervisor is not None
    alpha = running_cluster.supervisor.children["alpha"]
    killed = alpha.pid
    assert killed is not None

    os.kill(killed, signal.SIGKILL)

    await eventually(lambda: alpha.pid not in (None, killed))
    assert await answers_ready(alpha.spec.ready_url)
    assert alpha.restarts == 1


async def test_stop_kills_a_process_that_ignores_sigterm_and_leaves_none(
    fakes_on_path: Path, cortex_data_dir: Path
) -> None:
    specs = fake_processes(fakes_on_path, calm="ok", stubborn="stubborn")
    cluster = Cluster(make_config(cortex_data_dir, stop_timeout=1.0), specs)
    try:
        await cluster.start()
        assert cluster.nats is not None
        assert cluster.postgres is not None
        pids = [*cluster.pids().values(), cluster.nats.pid, cluster.postgres.pid]
        tree = [p for pid in pids if pid is not None for p in process_tree(pid)]
    finally:
        await cluster.stop()

    assert len(tree) > 4
    assert alive(tree) == []


async def test_a_process_that_never_gets_ready_fails_start_with_its_last_lines(
    fakes_on_path: Path, cortex_data_dir: Path
) -> None:
    specs = fake_processes(fakes_on_path, alpha="ok", sleeper="stuck")
    cluster = Cluster(make_config(cortex_data_dir, ready_timeout=1.5), specs)
    try:
        with pytest.raises(UpError) as error:
            await cluster.start()
    finally:
        await cluster.stop()

    message = str(error.value)
    assert "sleeper did not become ready within 1.5s" in message
    assert "waiting for something that never comes" in message
    assert "alpha" not in message


async def test_a_process_that_crashes_on_start_fails_start_at_once(
    fakes_on_path: Path, cortex_data_dir: Path
) -> None:
    specs = fake_processes(fakes_on_path, alpha="ok", broken="crash")
    cluster = Cluster(make_config(cortex_data_dir, ready_timeout=60.0), specs)
    started = asyncio.get_running_loop().time()
    try:
        with pytest.raises(UpError) as error:
            await cluster.start()
    finally:
        await cluster.stop()

    assert "broken exited with code 1 before it became ready" in str(error.value)
    assert "fake crash: no configuration" in str(error.value)
    assert asyncio.get_running_loop().time() - started < 30


DRIVER = """
import asyncio, sys
from pathlib import Path
from cortex_sdk.processes import ProcessSpec
from cortex_sdk.supervisor import Backoff
from cortex_sdk.up import UpConfig, run_cluster

specs = [ProcessSpec(*fields) for fields in {specs!r}]
config = UpConfig(data_dir=Path({data_dir!r}), nats_port={nats_port}, postgres_port={pg_port},
                  json_output=True, stop_timeout=5.0)
sys.exit(asyncio.run(run_cluster(config, specs)))
"""


def test_sigint_stops_cortex_up_with_exit_0_and_no_process_left(
    fakes_on_path: Path, cortex_data_dir: Path
) -> None:
    specs = fake_processes(fakes_on_path, alpha="ok", gateway="ok")
    driver = DRIVER.format(
        specs=[(s.name, s.module, s.env_prefix, s.default_port) for s in specs],
        data_dir=str(cortex_data_dir),
        nats_port=free_port(),
        pg_port=free_port(),
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(driver)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        ready = next(
            (
                event
                for event in map(json.loads, proc.stdout)
                if event["event"] in ("cluster.ready", "cortex.error")
            ),
            {"event": "exited"},
        )
        tree = process_tree(proc.pid)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    finally:
        proc.kill()

    assert ready["event"] == "cluster.ready"
    assert ready["admin_key"].startswith("cvc_")
    assert code == 0
    assert len(tree) > 4  # cortex up, two processes, NATS, PostgreSQL and its workers
    assert alive(tree) == []
