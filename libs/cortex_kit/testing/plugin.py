"""pytest plugin: a real NATS server and a real PostgreSQL, started once per test session.

Both start lazily, the first time a test asks for one of the fixtures below, on free ports in a
temporary directory, and stop when the session ends.

- `cortex_postgres` / `cortex_nats` (session): the servers themselves. A test may stop them to
  simulate an outage (`with cortex_nats.outage(): ...`); they are running again after the test.
- `database_url` (function): URL of a fresh, empty database, dropped after the test.
- `migrated_database_url` (function): URL of a fresh copy of `cortex_database_template`, the
  database a project's conftest prepares once per session (its schemas migrated to head);
  an empty database when no conftest overrides `cortex_database_template`.
- `nats_url` (function): URL of the NATS server, with every JetStream stream deleted first.
- `cortex_data_dir` (function): an empty directory the PostgreSQL account can reach, for
  `cortex up --data-dir` in end-to-end tests.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from cortex_kit.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    PortInUseError,
    default_template_dir,
    free_port,
)

_Server = EmbeddedNats | EmbeddedPostgres
_S = TypeVar("_S", EmbeddedNats, EmbeddedPostgres)
_STARTED = pytest.StashKey[list[_Server]]()
_PORT_ATTEMPTS = 5


def _start_on_free_port(make: Callable[[int], _S]) -> _S:
    # Another process may take a free port before the server binds it: try a few.
    attempts_left = _PORT_ATTEMPTS
    while True:
        server = make(free_port())
        try:
            server.start()
        except PortInUseError:
            attempts_left -= 1
            if attempts_left == 0:
                raise
        else:
            return server


def _remember(config: pytest.Config, server: _Server) -> None:
    config.stash.setdefault(_STARTED, []).append(server)


@pytest.fixture(scope="session")
def cortex_runtime_dir() -> Iterator[Path]:
    """The session's temporary directory for server data, removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="cortex-test-"))
    # Searchable by the unprivileged account PostgreSQL runs as when tests run as root.
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def cortex_postgres(
    request: pytest.FixtureRequest, cortex_runtime_dir: Path
) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server for the whole session (fsync off: never for real data)."""
    template = default_template_dir()
    server = _start_on_free_port(
        lambda port: EmbeddedPostgres(
            cortex_runtime_dir / "postgres", port, durable=False, template_dir=template
        )
    )
    _remember(request.config, server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cortex_nats(request: pytest.FixtureRequest, cortex_runtime_dir: Path) -> Iterator[EmbeddedNats]:
    """A JetStream-enabled NATS server for the whole session."""
    server = _start_on_free_port(lambda port: EmbeddedNats(cortex_runtime_dir / "nats", port))
    _remember(request.config, server)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _cortex_servers_running_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Undo a simulated outage so the next test finds the servers up."""
    yield
    for server in request.config.stash.get(_STARTED, []):
        server.start()


@pytest.fixture
def database_url(cortex_postgres: EmbeddedPostgres) -> Iterator[str]:
    """SQLAlchemy URL (asyncpg) of a new, empty database that is dropped after the test."""
    name = f"t_{uuid.uuid4().hex}"
    cortex_postgres.start()
    cortex_postgres.ensure_database(name)
    yield cortex_postgres.url(name)
    cortex_postgres.start()
    cortex_postgres.drop_database(name)


@pytest.fixture(scope="session")
def cortex_database_template() -> str | None:
    """Name of the database `migrated_database_url` copies; override it in a conftest.

    The override creates the database once per session (``cortex_postgres.ensure_database``),
    migrates it and closes every connection to it; copying is far cheaper than migrating.
    """
    return None


@pytest.fixture
def migrated_database_url(
    cortex_postgres: EmbeddedPostgres, cortex_database_template: str | None
) -> Iterator[str]:
    """SQLAlchemy URL of a new copy of the session's template database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex}"
    cortex_postgres.start()
    cortex_postgres.ensure_database(name, template=cortex_database_template)
    yield cortex_postgres.url(name)
    cortex_postgres.start()
    cortex_postgres.drop_database(name)


@pytest.fixture
def nats_url(cortex_nats: EmbeddedNats) -> str:
    """URL of the session's NATS server, with no JetStream stream left from earlier tests."""
    cortex_nats.start()
    delete_all_streams(cortex_nats.url)
    return cortex_nats.url


@pytest.fixture
def cortex_data_dir(cortex_runtime_dir: Path) -> Path:
    """An empty directory that PostgreSQL can use even when it runs as another account."""
    path = cortex_runtime_dir / f"data-{uuid.uuid4().hex[:12]}"
    path.mkdir(mode=0o711)
    path.chmod(0o711)
    return path


def delete_all_streams(url: str, timeout: float = 30.0) -> None:
    """Delete every JetStream stream (and so every consumer, KV bucket and object store).

    Runs in a short-lived thread with its own event loop, so it works from sync code and from
    inside a running loop alike.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_delete_all_streams(url, timeout))
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run, name="cortex-delete-streams", daemon=True)
    worker.start()
    worker.join(timeout + 5)
    if worker.is_alive():
        raise TimeoutError(f"deleting JetStream streams on {url} took over {timeout:.0f}s")
    if failure:
        raise failure[0]


async def _delete_all_streams(url: str, wait_s: float) -> None:
    import nats

    async def quiet(_exc: Exception) -> None:
        return None

    client = await nats.connect(
        url,
        connect_timeout=wait_s,
        allow_reconnect=False,
        # nats-py retries the first connect too, indefinitely when this is 0.
        max_reconnect_attempts=1,
        reconnect_time_wait=0.1,
        error_cb=quiet,
    )
    try:
        jetstream = client.jetstream(timeout=wait_s)
        while streams := await jetstream.streams_info():
            for stream in streams:
                assert stream.config.name is not None
                await jetstream.delete_stream(stream.config.name)
    finally:
        await client.close()
