"""The embedded NATS and PostgreSQL servers, started for real in temporary directories."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import psutil
import pytest

from cortex_kit import embedded
from cortex_kit.embedded import (
    EmbeddedError,
    EmbeddedNats,
    EmbeddedPostgres,
    PortInUseError,
    default_template_dir,
    free_port,
    port_in_use,
)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only meaningful when running as root")


@pytest.fixture
def server_dir() -> Iterator[Path]:
    # pytest's tmp_path lives under a 0700 directory the PostgreSQL account cannot reach as root.
    path = Path(tempfile.mkdtemp(prefix="cortex-test-embedded-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


@pytest.fixture
def postgres(server_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(
        server_dir / "pg", free_port(), durable=False, template_dir=default_template_dir()
    )
    with server:
        yield server


@pytest.fixture
def nats_server(server_dir: Path) -> Iterator[EmbeddedNats]:
    with EmbeddedNats(server_dir / "nats", free_port()) as server:
        yield server


async def database_names(server: EmbeddedPostgres) -> set[str]:
    conn = await asyncpg.connect(host="127.0.0.1", port=server.port, user="postgres")
    try:
        return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


def test_free_port_is_not_in_use() -> None:
    assert not port_in_use(free_port())


def test_port_in_use_sees_a_listener(listener: socket.socket) -> None:
    assert port_in_use(listener.getsockname()[1])


# ---------------------------------------------------------------------------------- PostgreSQL


async def test_postgres_initdb_on_first_start_then_accepts_connections(server_dir: Path) -> None:
    with EmbeddedPostgres(server_dir / "fresh", free_port(), durable=False) as server:
        assert (server.data_dir / "PG_VERSION").exists()
        assert "postgres" in await database_names(server)


async def _connect_without_password(server: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=server.port, user="postgres")
    await conn.close()


async def _connect_with_url(server: EmbeddedPostgres, database: str = "postgres") -> None:
    conn = await asyncpg.connect(server.url(database).replace("+asyncpg", ""))
    await conn.close()


async def test_postgres_with_a_password_refuses_connections_without_it(server_dir: Path) -> None:
    password = "pw/with:odd@chars-" + "x" * 16
    with EmbeddedPostgres(server_dir / "pw", free_port(), durable=False, password=password) as pg:
        with pytest.raises(
            (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
        ):
            await _connect_without_password(pg)
        pg.ensure_database("cortex")
        await _connect_with_url(pg, "cortex")
    _assert_no_trust_and_no_pwfile(pg)


def _assert_no_trust_and_no_pwfile(pg: EmbeddedPostgres) -> None:
    assert embedded._trusting_lines(pg.data_dir / "pg_hba.conf") == []
    assert not list(Path(tempfile.gettempdir()).glob("cortex-pgpw-*"))  # initdb's file is gone


async def test_a_trust_data_dir_of_an_older_version_gets_the_password(server_dir: Path) -> None:
    port = free_port()
    with EmbeddedPostgres(server_dir / "old", port, durable=False) as trusting:
        await _connect_without_password(trusting)

    upgraded = EmbeddedPostgres(server_dir / "old", port, durable=False, password="n" * 8 + "ew-pw")
    with upgraded:
        with pytest.raises(
            (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
        ):
            await _connect_without_password(upgraded)
        await _connect_with_url(upgraded)
    with upgraded:  # and on later starts
        await _connect_with_url(upgraded)
    assert embedded._trusting_lines(upgraded.data_dir / "pg_hba.conf") == []


def test_postgres_url_names_driver_port_and_database(postgres: EmbeddedPostgres) -> None:
    assert (
        postgres.url("cortex") == f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/cortex"
    )


async def test_postgres_ensure_database_creates_it_once(postgres: EmbeddedPostgres) -> None:
    postgres.ensure_database("orders")
    postgres.ensure_database("orders")

    assert "orders" in await database_names(postgres)


async def test_postgres_drop_database_disconnects_sessions(postgres: EmbeddedPostgres) -> None:
    postgres.ensure_database("doomed")
    conn = await asyncpg.connect(postgres.url("doomed").replace("+asyncpg", ""))

    postgres.drop_database("doomed")

    assert "doomed" not in await database_names(postgres)
    assert conn.is_closed() or await _connection_is_dead(conn)


async def _connection_is_dead(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return True
    return False


async def test_postgres_keeps_data_across_restart(postgres: EmbeddedPostgres) -> None:
    postgres.ensure_database("kept")
    first_pid = postgres.pid

    postgres.stop()
    assert not postgres.is_running()
    postgres.start()

    assert postgres.pid != first_pid
    assert "kept" in await database_names(postgres)


def test_postgres_stop_leaves_no_server_process(postgres: EmbeddedPostgres) -> None:
    assert postgres.pid is not None
    server = psutil.Process(postgres.pid)
    pids = [server.pid, *(child.pid for child in server.children(recursive=True))]
    assert len(pids) > 1  # the postmaster and its background workers

    postgres.stop()

    assert not any(psutil.pid_exists(pid) for pid in pids)


def test_postgres_refuses_a_taken_port(server_dir: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    server = EmbeddedPostgres(server_dir / "pg", port, template_dir=default_template_dir())

    with pytest.raises(PortInUseError, match=f"port {port} is already in use"):
        server.start()


def test_postgres_start_failure_shows_the_log_tail(postgres: EmbeddedPostgres) -> None:
    postgres.stop()
    with (postgres.data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write("no_such_setting = 1\n")

    with pytest.raises(EmbeddedError, match="no_such_setting"):
        postgres.start()
    assert not postgres.is_running()


@as_root
def test_postgres_runs_as_the_unprivileged_account(postgres: EmbeddedPostgres) -> None:
    assert postgres.pid is not None
    assert psutil.Process(postgres.pid).username() == "nobody"
    assert postgres.data_dir.stat().st_uid == psutil.Process(postgres.pid).uids().real


@as_root
def test_postgres_explains_a_data_dir_its_account_cannot_reach(tmp_path: Path) -> None:
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)

    with pytest.raises(EmbeddedError, match="needs search permission on every parent directory"):
        EmbeddedPostgres(hidden / "pg", free_port()).start()


@as_root
async def test_postgres_runs_from_a_copy_when_the_install_is_unreachable(
    server_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "_can_execute", lambda _binary, _account: False)
    embedded._server_bin_dir.cache_clear()
    try:
        with EmbeddedPostgres(server_dir / "pg", free_port(), durable=False) as server:
            assert server.pid is not None
            executable = psutil.Process(server.pid).exe()
            assert executable.startswith(tempfile.gettempdir())
            assert "postgres" in await database_names(server)
    finally:
        embedded._server_bin_dir.cache_clear()


# ---------------------------------------------------------------------------------------- NATS


async def test_nats_serves_jetstream(nats_server: EmbeddedNats) -> None:
    client = await nats.connect(nats_server.url)
    try:
        await client.jetstream().add_stream(name="ORDERS", subjects=["orders.>"])
    finally:
        await client.close()


async def test_nats_restart_keeps_port_and_streams(nats_server: EmbeddedNats) -> None:
    client = await nats.connect(nats_server.url)
    await client.jetstream().add_stream(name="KEPT", subjects=["kept.>"])
    await client.close()
    url, first_pid = nats_server.url, nats_server.pid

    nats_server.restart()

    assert (nats_server.url, nats_server.is_running()) == (url, True)
    assert nats_server.pid != first_pid
    client = await nats.connect(nats_server.url)
    try:
        assert (await client.jetstream().stream_info("KEPT")).config.name == "KEPT"
    finally:
        await client.close()


def test_nats_outage_stops_the_server_for_the_block(nats_server: EmbeddedNats) -> None:
    with nats_server.outage():
        assert not port_in_use(nats_server.port)
    assert port_in_use(nats_server.port)


def test_nats_stop_leaves_no_server_process(nats_server: EmbeddedNats) -> None:
    pid = nats_server.pid
    assert pid is not None

    nats_server.stop()

    assert not psutil.pid_exists(pid)


def test_nats_refuses_a_taken_port(server_dir: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    with pytest.raises(PortInUseError, match=f"port {port} is already in use"):
        EmbeddedNats(server_dir / "nats", port).start()


def test_servers_die_with_a_killed_parent(server_dir: Path) -> None:
    parent_code = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        from cortex_kit.embedded import EmbeddedNats, EmbeddedPostgres, free_port
        root = Path({str(server_dir)!r})
        nats = EmbeddedNats(root / "nats", free_port()); nats.start()
        pg = EmbeddedPostgres(root / "pg", free_port(), durable=False,
                              template_dir=Path({str(default_template_dir())!r}))
        pg.start()
        print(nats.pid, pg.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", parent_code], capture_output=True, text=True, timeout=60
    )
    assert len(done.stdout.split()) == 2, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]

    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], 10)

    assert alive == []
