"""The one wiring place of a process: settings → logs, traces, db, bus, outbox, consumers, app."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    MutableMapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware import Middleware

from cortex_kit.db import Database
from cortex_kit.internal_auth import install_internal_auth
from cortex_kit.logs import configure_logging, get_logger
from cortex_kit.messaging.broadcast import Broadcast, Listening
from cortex_kit.messaging.bus import Bus, StreamDeclaration
from cortex_kit.messaging.consumer import ConsumerRunner, ConsumerSpec
from cortex_kit.messaging.outbox import OutboxRelay
from cortex_kit.messaging.tables import MessagingTables
from cortex_kit.migrations import pending_migrations, upgrade_to_head
from cortex_kit.observability import configure_tracing
from cortex_kit.settings import ProcessSettings
from cortex_kit.web import (
    ObservabilityMiddleware,
    Readiness,
    ReadinessCheck,
    RequestGuard,
    install_health,
    install_problem_handlers,
)

log = get_logger("cortex.runtime")
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
S = TypeVar("S")


def freeze_startup_objects() -> None:
    """Exempt what startup built (modules, metadata, compiled statements…) from the cyclic GC.

    A process keeps these for its whole life, yet every full collection walks them all: with a
    service's imports that is tens of milliseconds each time, a few per cent of the CPU under
    load. Garbage of startup is collected first, so nothing that is already garbage is kept.
    """
    gc.collect()
    gc.freeze()


@dataclass
class Runtime:
    """What the kit owns in a process (the service's own state is its ``S``), created in the
    lifespan and reachable from ``app.state``."""

    settings: ProcessSettings
    db: Database
    bus: Bus
    tables: MessagingTables
    relay: OutboxRelay
    consumers: list[ConsumerRunner[Any]] = field(default_factory=list)
    broadcasts: Listening = field(default_factory=Listening)


Hook = Callable[[Runtime, S], Awaitable[None]]
Check = Callable[[Runtime, S], Awaitable[str | None]]
_STATE_ATTRIBUTE = "service_state"


class StateSlot(Generic[S]):
    """Where endpoints find a process's service state, typed: one per service, module level.

    The service's ``ServiceDefinition`` names the same slot (``state=``), so the type its
    ``build_state`` returns is the type the slot gives back — no assert or isinstance where
    the state is read. ``slot(request)`` is the cheap accessor for hot paths and helpers;
    ``Depends(slot.dependency)`` the FastAPI dependency (async: no thread-pool hop), e.g.
    ``State = Annotated[MyState, Depends(state_of.dependency)]``.
    """

    __slots__ = ("dependency",)

    def __init__(self) -> None:
        async def dependency(request: Request) -> S:
            return self(request)

        self.dependency = dependency

    def __call__(self, request: Request) -> S:
        state: S = getattr(request.app.state, _STATE_ATTRIBUTE)
        return state

    def in_app(self, app: FastAPI) -> S:
        """The state of a started ``app`` (tests that look inside a served process)."""
        state: S = getattr(app.state, _STATE_ATTRIBUTE)
        return state

    def bind(self, app: FastAPI, state: S) -> None:
        setattr(app.state, _STATE_ATTRIBUTE, state)


async def no_state(_runtime: Runtime) -> None:
    """The ``build_state`` of a process with no state of its own."""


def _no_specs(_runtime: Runtime, _state: object) -> Sequence[Any]:
    return ()


@dataclass(frozen=True)
class ServiceDefinition(Generic[S]):
    """What makes a process this service. At start, in order: the kit's runtime (database,
    migrations, NATS, outbox relay), ``build_state`` → ``S``, the broadcasts and consumers
    built from ``(runtime, state)``, ``on_start``; at stop ``on_stop`` gets the state too."""

    title: str
    migrations_dir: Path
    tables: MessagingTables
    streams: Iterable[StreamDeclaration]
    build_state: Callable[[Runtime], Awaitable[S]]
    # The slot the endpoints read the state from (None: no endpoint needs it); naming it here
    # makes mypy check that it holds what ``build_state`` makes.
    state: StateSlot[S] | None = None
    routers: Sequence[APIRouter] = ()
    consumers: Callable[[Runtime, S], Sequence[ConsumerSpec[Any]]] = _no_specs
    broadcasts: Callable[[Runtime, S], Sequence[Broadcast[Any]]] = _no_specs
    on_start: Sequence[Hook[S]] = ()
    on_stop: Sequence[Hook[S]] = ()
    # Service-specific readiness checks, by name: None when ready, else why not (e.g. a cache
    # still warming up), reported by /readyz with the kit's own checks.
    readiness: Mapping[str, Check[S]] = field(default_factory=dict)
    # Request bodies larger than this are refused with 413 before any route reads them;
    # ``body_limits`` raises or lowers it per path prefix (the longest matching prefix wins).
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_limits: Mapping[str, int] = field(default_factory=dict)
    # ASGI middleware of the service, innermost: inside the body guard (bodies they read are
    # bounded) and the request id, outside the routes' exception handlers (a middleware
    # answers its own problems); the first listed runs first.
    middleware: Sequence[Middleware] = ()


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


BeforeCommit = Callable[[AsyncSession], Awaitable[None]]
_BEFORE_COMMIT = "cortex.before_commit"


def before_commit(scope: MutableMapping[str, Any], hook: BeforeCommit) -> None:
    """Run ``hook(session)`` in this request's unit of work (``DbSession``) once the endpoint
    has returned, just before the commit — a middleware's row written in the same transaction
    as the change it records. Not run when the endpoint raises or uses no ``DbSession``."""
    scope.setdefault("state", {}).setdefault(_BEFORE_COMMIT, []).append(hook)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).db.session() as session:
        yield session
        for hook in request.scope.get("state", {}).get(_BEFORE_COMMIT, ()):
            await hook(session)


# scope="function": the session's exit — the commit — runs when the endpoint has returned and
# before the response is sent. With the default request scope FastAPI sends the response first
# and commits afterwards, so a client could hear "stored" about a write whose commit then
# failed. A failed commit raises here and is answered as an error (503 for an outage).
DbSession = Annotated[AsyncSession, Depends(_session, scope="function")]
"""The request's unit of work: commits before the response is sent, rolls back if the
endpoint raises; a commit that fails is answered as an error, never as a success."""
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _readiness(started: list[tuple[Runtime, S]], definition: ServiceDefinition[S]) -> Readiness:
    """``started`` holds the runtime and state once the lifespan has made them."""
    migrated = {"ok": False}

    async def database() -> str | None:
        if not started:
            return "starting"
        return await started[0][0].db.ping()

    async def nats() -> str | None:
        if not started:
            return "starting"
        return await started[0][0].bus.ping()

    async def migrations() -> str | None:
        if migrated["ok"]:
            return None
        if not started:
            return "starting"
        rt = started[0][0]
        reason = await pending_migrations(rt.db, definition.migrations_dir, rt.settings.schema_name)
        migrated["ok"] = reason is None
        return reason

    def bound(check: Check[S]) -> ReadinessCheck:
        async def run() -> str | None:
            if not started:
                return "starting"
            return await check(*started[0])

        return run

    checks: dict[str, ReadinessCheck] = {
        "database": database,
        "nats": nats,
        "migrations": migrations,
    }
    checks |= {name: bound(check) for name, check in definition.readiness.items()}
    return Readiness(checks)


def create_service_app(settings: ProcessSettings, definition: ServiceDefinition[S]) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    configure_tracing(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    started: list[tuple[Runtime, S]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt, state = await _start(settings, definition, app)
        started.append((rt, state))
        log.info("process.started", port=settings.port)
        try:
            yield
        finally:
            await _stop(rt, state, definition)
            log.info("process.stopped")

    # FastAPI's native telemetry makes the HTTP server spans (one per request: no spans for
    # dependency resolution, endpoint and serialization, which tripled the tracing cost of a
    # request for little insight); metrics are Prometheus's job.
    app = FastAPI(
        title=definition.title,
        lifespan=lifespan,
        telemetry={"tracing": True, "operation_spans": False, "metrics": False, "logs": False},
    )
    for inner in reversed(definition.middleware):
        app.add_middleware(inner.cls, *inner.args, **inner.kwargs)
    app.add_middleware(
        RequestGuard, max_body_bytes=definition.max_body_bytes, body_limits=definition.body_limits
    )
    install_internal_auth(app, settings)  # services accept only calls the gateway signed
    app.add_middleware(ObservabilityMiddleware, service=settings.service_name)
    install_problem_handlers(app)
    install_health(app, _readiness(started, definition))
    for router in definition.routers:
        app.include_router(router)
    return app


async def _start(
    settings: ProcessSettings, definition: ServiceDefinition[S], app: FastAPI
) -> tuple[Runtime, S]:
    db = Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        application_name=settings.service_name,
    )
    if settings.run_migrations:
        await upgrade_to_head(db, definition.migrations_dir, settings.schema_name)
    bus = Bus(settings.nats_url, name=settings.service_name, transport=settings.nats_transport)
    await bus.connect()
    await bus.ensure_streams(definition.streams)
    relay = OutboxRelay(
        db,
        bus,
        definition.tables.outbox,
        service=settings.service_name,
        batch_size=settings.outbox_batch_size,
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    rt = Runtime(settings=settings, db=db, bus=bus, tables=definition.tables, relay=relay)
    app.state.runtime = rt
    state = await definition.build_state(rt)
    if definition.state is not None:
        definition.state.bind(app, state)
    for broadcast in definition.broadcasts(rt, state):
        await rt.broadcasts.listen(bus, broadcast)
    rt.consumers = [
        ConsumerRunner(db, bus, definition.tables.inbox, spec, service=settings.service_name)
        for spec in definition.consumers(rt, state)
    ]
    for consumer in rt.consumers:
        await consumer.declare()
    for hook in definition.on_start:
        await hook(rt, state)
    freeze_startup_objects()
    relay.start()
    for consumer in rt.consumers:
        consumer.start()
    return rt, state


async def _stop(rt: Runtime, state: S, definition: ServiceDefinition[S]) -> None:
    await rt.broadcasts.close()
    for hook in definition.on_stop:
        await hook(rt, state)
    await asyncio.gather(*(c.stop() for c in rt.consumers), rt.relay.stop())
    await rt.bus.close()
    await rt.db.dispose()


def serve(app: FastAPI, settings: ProcessSettings) -> None:
    """Run one process with uvloop + httptools (``python -m <service>``)."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
