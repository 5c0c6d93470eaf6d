"""`cortex up`: embedded NATS + PostgreSQL, the five services and the gateway, supervised.

The core is `run_cluster(config, processes)`; the process table is injectable so the
supervision can be exercised with stand-in processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote

import click

from cortex_sdk.admin_key import AdminKey, AdminKeyError, load_admin_key
from cortex_sdk.cli_context import CliState
from cortex_sdk.cluster_secrets import (
    POSTGRES_PASSWORD_FILE,
    ClusterSecrets,
    ClusterSecretsError,
    load_cluster_secrets,
)
from cortex_sdk.console import Console
from cortex_sdk.processes import (
    DATABASE_NAME,
    GATEWAY,
    NATS_PORT,
    POSTGRES_PORT,
    PROCESSES,
    ProcessSpec,
)
from cortex_sdk.supervisor import Backoff, ChildSpec, NotReadyError, Supervisor

if TYPE_CHECKING:
    from cortex_kit.embedded import EmbeddedError, EmbeddedNats, EmbeddedPostgres

__all__ = [
    "Cluster",
    "UpConfig",
    "UpError",
    "check_ports",
    "config_from_params",
    "process_env",
    "run_cluster",
    "up",
]

_INFRA_CHECK_INTERVAL = 1.0


class UpError(Exception):
    """`cortex up` cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class UpConfig:
    data_dir: Path = Path(".cortex")
    host: str = "127.0.0.1"
    nats_port: int = NATS_PORT
    nats_monitor_port: int | None = None
    postgres_port: int = POSTGRES_PORT
    ports: Mapping[str, int] = field(default_factory=dict)  # by process name; else its default
    ready_timeout: float = 60.0
    stop_timeout: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)
    json_output: bool = False

    def port_of(self, spec: ProcessSpec) -> int:
        return self.ports.get(spec.name, spec.default_port)

    @property
    def client_host(self) -> str:
        """Where clients connect: a wildcard listen address is reached on loopback."""
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)

    def http_url(self, spec: ProcessSpec) -> str:
        host = f"[{self.client_host}]" if ":" in self.client_host else self.client_host
        return f"http://{host}:{self.port_of(spec)}"

    @property
    def nats_url(self) -> str:
        return f"nats://{self.client_host}:{self.nats_port}"

    def database_url(self, password: str) -> str:
        host = f"[{self.client_host}]" if ":" in self.client_host else self.client_host
        user = f"postgres:{quote(password, safe='')}"
        return f"postgresql+asyncpg://{user}@{host}:{self.postgres_port}/{DATABASE_NAME}"


# ------------------------------------------------------------------------------------ ports


@dataclass(frozen=True)
class _PortClaim:
    port: int
    option: str
    envvar: str


def _port_claims(config: UpConfig, processes: Sequence[ProcessSpec]) -> list[_PortClaim]:
    claims = [_PortClaim(config.nats_port, "--nats-port", "CORTEX_NATS_PORT")]
    if config.nats_monitor_port is not None:
        claims.append(
            _PortClaim(config.nats_monitor_port, "--nats-monitor-port", "CORTEX_NATS_MONITOR_PORT")
        )
    claims.append(_PortClaim(config.postgres_port, "--postgres-port", "CORTEX_POSTGRES_PORT"))
    claims += [_PortClaim(config.port_of(p), p.port_option, p.port_envvar) for p in processes]
    return claims


def check_ports(config: UpConfig, processes: Sequence[ProcessSpec] = PROCESSES) -> None:
    """UpError naming every flag whose port is taken (or asked for twice)."""
    from cortex_kit.embedded import port_in_use

    claims = _port_claims(config, processes)
    seen: dict[int, _PortClaim] = {}
    for claim in claims:
        if (first := seen.setdefault(claim.port, claim)) is not claim:
            raise UpError(
                f"{first.option} and {claim.option} both ask for port {claim.port}; "
                "give each its own port"
            )
    taken = [claim for claim in claims if port_in_use(claim.port, config.host)]
    if taken:
        lines = [
            f"port {c.port} ({c.option} / {c.envvar}) is already in use{_leftover_hint(c, config)}"
            for c in taken
        ]
        raise UpError(
            "\n".join(lines) + "\nstop what listens there, or choose other ports with the "
            "flags or environment variables named above"
        )


def _leftover_hint(claim: _PortClaim, config: UpConfig) -> str:
    pid_file = config.data_dir / "postgres" / "postmaster.pid"
    if claim.option == "--postgres-port" and pid_file.exists():
        return f" (maybe by a PostgreSQL left running on {pid_file.parent})"
    return ""


# -------------------------------------------------------------------------------- processes


SERVICE_UPSTREAMS: dict[str, tuple[str, ...]] = {
    "policy_engine": ("approval_workflow",),  # it asks the workflow to use approvals
    "rollout_orchestrator": ("policy_engine",),  # it has each plan evaluated
}
"""The services a service calls itself (the gateway is told every one's URL)."""


def process_env(
    spec: ProcessSpec,
    config: UpConfig,
    processes: Sequence[ProcessSpec],
    admin_key: str,
    secrets: ClusterSecrets,
) -> dict[str, str]:
    """The `<PREFIX>*` variables a process is started with (on top of our environment)."""
    prefix = spec.env_prefix
    env = {
        f"{prefix}HOST": config.host,
        f"{prefix}PORT": str(config.port_of(spec)),
        f"{prefix}DATABASE_URL": config.database_url(secrets.postgres_password),
        f"{prefix}NATS_URL": config.nats_url,
        # The gateway signs its calls with it; the services accept no call without it.
        f"{prefix}INTERNAL_SECRET": secrets.internal_secret,
    }
    for upstream in processes:
        if upstream.name in SERVICE_UPSTREAMS.get(spec.name, ()):
            env[f"{prefix}{upstream.name.upper()}_URL"] = config.http_url(upstream)
    if spec.name == GATEWAY:
        for upstream in processes:
            if upstream.name != GATEWAY:
                env[f"{prefix}{upstream.name.upper()}_URL"] = config.http_url(upstream)
        # The gateway creates this key only when no key exists yet.
        env[f"{prefix}BOOTSTRAP_ADMIN_KEY"] = admin_key
        env[f"{prefix}SECRETS_KEY"] = secrets.secrets_key
    return env


def _child_spec(
    spec: ProcessSpec,
    config: UpConfig,
    processes: Sequence[ProcessSpec],
    admin_key: str,
    secrets: ClusterSecrets,
) -> ChildSpec:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env |= process_env(spec, config, processes, admin_key, secrets)
    return ChildSpec(
        name=spec.name,
        argv=(sys.executable, "-m", spec.module),
        env=env,
        ready_url=f"{config.http_url(spec)}/readyz",
    )


# ---------------------------------------------------------------------------------- cluster


class Cluster:
    """NATS, PostgreSQL and the supervised processes of one `cortex up`."""

    def __init__(
        self,
        config: UpConfig,
        processes: Sequence[ProcessSpec] = PROCESSES,
        console: Console | None = None,
    ) -> None:
        self.config = config
        self.processes = tuple(processes)
        self.console = console or Console([p.name for p in processes])
        self.data_dir = config.data_dir.absolute()
        self.admin_key: AdminKey | None = None
        self.secrets: ClusterSecrets | None = None
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.supervisor: Supervisor | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start everything and wait until every process is ready; UpError says what failed."""
        from cortex_kit.embedded import EmbeddedError, EmbeddedNats, EmbeddedPostgres

        try:
            self._prepare_data_dir()
            self.admin_key = load_admin_key(self.data_dir)
            self.secrets = load_cluster_secrets(self.data_dir)
        except OSError as exc:
            raise UpError(f"cannot use data directory {self.data_dir}: {exc}") from exc
        except (AdminKeyError, ClusterSecretsError) as exc:
            raise UpError(str(exc)) from exc
        cfg = self.config
        try:
            self.nats = EmbeddedNats(
                self.data_dir / "nats", cfg.nats_port, cfg.nats_monitor_port, cfg.host
            )
            self.nats.start()
            self.console.notice("nats", f"listening on {cfg.nats_url} (log {self.nats.log_file})")
            assert self.secrets is not None
            self.postgres = EmbeddedPostgres(
                self.data_dir / "postgres",
                cfg.postgres_port,
                cfg.host,
                password=self.secrets.postgres_password,
            )
            self.postgres.start()
            self.postgres.ensure_database(DATABASE_NAME)
            self.console.notice(
                "postgres", f"listening on port {cfg.postgres_port} (log {self.postgres.log_file})"
            )
        except EmbeddedError as exc:
            raise UpError(f"{exc}{self._password_hint(exc)}") from exc
        await self._start_processes(self.admin_key.value, self.secrets)
        self._watchdog = asyncio.create_task(self._watch_infrastructure())

    def _password_hint(self, error: EmbeddedError) -> str:
        if "password authentication failed" not in str(error):
            return ""
        return (
            f"\nPostgreSQL does not take the password in {self.data_dir / POSTGRES_PASSWORD_FILE}"
            " (was that file replaced or deleted?): restore it, or remove "
            f"{self.data_dir / 'postgres'} to start with an empty database"
        )

    def _prepare_data_dir(self) -> None:
        if not self.data_dir.exists():
            self.data_dir.mkdir(parents=True)
            # As root, PostgreSQL runs as an unprivileged user that must reach DATA/postgres.
            self.data_dir.chmod(0o755)

    async def _start_processes(self, admin_key: str, secrets: ClusterSecrets) -> None:
        specs = [
            _child_spec(p, self.config, self.processes, admin_key, secrets) for p in self.processes
        ]
        self.supervisor = Supervisor(
            specs,
            output=self.console.output,
            notice=self.console.notice,
            backoff=self.config.backoff,
        )
        try:
            await self.supervisor.start(self.config.ready_timeout)
        except NotReadyError as exc:
            raise UpError(f"not every process became ready:\n{exc}") from exc

    async def _watch_infrastructure(self) -> None:
        # NATS and PostgreSQL are restarted too if they die under a running cluster.
        while True:
            await asyncio.sleep(_INFRA_CHECK_INTERVAL)
            for name, server in (("nats", self.nats), ("postgres", self.postgres)):
                if server is not None and not server.is_running():
                    self.console.notice(name, "exited unexpectedly; restarting")
                    try:
                        server.start()
                    except Exception as exc:
                        self.console.notice(name, f"restart failed: {exc}")

    @property
    def gateway_url(self) -> str | None:
        gateway = next((p for p in self.processes if p.name == GATEWAY), None)
        return self.config.http_url(gateway) if gateway else None

    def pids(self) -> dict[str, int]:
        """Pids of the running processes, by name."""
        children = self.supervisor.children.values() if self.supervisor else []
        return {child.spec.name: pid for child in children if (pid := child.pid) is not None}

    def kill(self) -> None:
        if self.supervisor is not None:
            self.supervisor.kill()

    async def stop(self) -> None:
        """Stop the processes (SIGTERM, grace, SIGKILL), then NATS and PostgreSQL."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        try:
            if self.supervisor is not None:
                await self.supervisor.stop(self.config.stop_timeout)
        finally:
            for server in (self.nats, self.postgres):
                if server is not None:
                    server.stop()


async def run_cluster(
    config: UpConfig,
    processes: Sequence[ProcessSpec] = PROCESSES,
    *,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until `stop` is set (by default: until SIGINT/SIGTERM). Returns the exit code."""
    console = Console([p.name for p in processes], json_output=config.json_output)
    try:
        check_ports(config, processes)
    except UpError as exc:
        console.error(str(exc))
        return 1
    cluster = Cluster(config, processes, console)
    own_signals = stop is None
    stop = stop or _stop_on_signals(cluster)
    failure: UpError | None = None
    try:
        if await _start_unless_stopped(cluster, stop):
            assert cluster.admin_key is not None
            console.banner(cluster.gateway_url, cluster.admin_key)
            await stop.wait()
        console.notice("cortex", "stopping")
    except UpError as exc:
        failure = exc
    finally:
        await cluster.stop()
        if own_signals:
            _restore_signals()
    if failure is not None:
        console.error(str(failure))  # last, so it is not buried under shutdown output
        return 1
    return 0


async def _start_unless_stopped(cluster: Cluster, stop: asyncio.Event) -> bool:
    starting = asyncio.create_task(cluster.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, UpError):
            await starting
        return False
    starting.result()
    return True


def _stop_on_signals(cluster: Cluster) -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():  # asked twice: do not wait for the grace period
            cluster.kill()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return stop


def _restore_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)


# -------------------------------------------------------------------------------------- CLI

_PORT = click.IntRange(1, 65535)
_F = TypeVar("_F", bound=Callable[..., object])


def _process_port_options(command: _F) -> _F:
    for spec in reversed(PROCESSES):
        command = click.option(
            spec.port_option,
            envvar=spec.port_envvar,
            type=_PORT,
            default=spec.default_port,
            show_default=True,
            show_envvar=True,
            help=f"Port of {spec.name}.",
        )(command)
    return command


def config_from_params(params: Mapping[str, object], *, json_output: bool = False) -> UpConfig:
    """The UpConfig for `cortex up`'s parsed options (flags, then environment, then defaults)."""

    def number(name: str) -> int:
        value = params[name]
        assert isinstance(value, int)
        return value

    monitor = params.get("nats_monitor_port")
    timeout = params.get("ready_timeout", 60.0)
    assert isinstance(timeout, int | float)
    assert isinstance(monitor, int | None)
    return UpConfig(
        data_dir=Path(str(params["data_dir"])),
        host=str(params["host"]),
        nats_port=number("nats_port"),
        nats_monitor_port=monitor,
        postgres_port=number("postgres_port"),
        ports={spec.name: number(f"{spec.name}_port") for spec in PROCESSES},
        ready_timeout=float(timeout),
        json_output=json_output,
    )


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".cortex"),
    envvar="CORTEX_DATA_DIR",
    show_default=True,
    show_envvar=True,
    help="Where NATS, PostgreSQL and the admin key keep their data.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    envvar="CORTEX_HOST",
    show_default=True,
    show_envvar=True,
    help="Address every process listens on.",
)
@click.option(
    "--nats-port",
    type=_PORT,
    default=NATS_PORT,
    envvar="CORTEX_NATS_PORT",
    show_default=True,
    show_envvar=True,
    help="Port of NATS.",
)
@click.option(
    "--nats-monitor-port",
    type=_PORT,
    default=None,
    envvar="CORTEX_NATS_MONITOR_PORT",
    show_envvar=True,
    help="Serve NATS monitoring on this port (off unless given).",
)
@click.option(
    "--postgres-port",
    type=_PORT,
    default=POSTGRES_PORT,
    envvar="CORTEX_POSTGRES_PORT",
    show_default=True,
    show_envvar=True,
    help="Port of PostgreSQL.",
)
@_process_port_options
@click.option(
    "--ready-timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    envvar="CORTEX_READY_TIMEOUT",
    show_default=True,
    show_envvar=True,
    help="Seconds every process has to answer GET /readyz with 200.",
)
@click.pass_context
def up(ctx: click.Context, /, **_: object) -> None:
    """Run NATS, PostgreSQL, the five services and the gateway until Ctrl+C.

    On first start an admin API key is created (from CORTEX_BOOTSTRAP_ADMIN_KEY when set),
    saved to DATA_DIR/admin.key and printed once.
    """
    state = ctx.find_object(CliState) or CliState()
    config = config_from_params(ctx.params, json_output=state.json_output)
    ctx.exit(asyncio.run(run_cluster(config)))
