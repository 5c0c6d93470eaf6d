"""The kit's HTTP edge without a database: body limits, control characters in paths, 405s,
and which database errors are outages (503) and which are bad input (422)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import exc as sa_exc

from cortex_kit.db import DbFailure, classify_db_error
from cortex_kit.web import RequestGuard, install_problem_handlers

router = APIRouter()


@router.post("/small")
async def small(request: Request) -> dict[str, int]:
    return {"read": len(await request.body())}


@router.post("/big/upload")
async def big(request: Request) -> dict[str, int]:
    return {"read": len(await request.body())}


@router.put("/things/{thing_id}")
async def put_thing(thing_id: str) -> dict[str, str]:
    return {"id": thing_id}


@router.get("/things/{thing_id}")
async def get_thing(thing_id: str) -> dict[str, str]:
    return {"id": thing_id}


@router.get("/fail/{kind}")
async def fail(kind: str) -> None:
    errors: dict[str, Exception] = {
        "refused": ConnectionRefusedError(111, "Connect call failed"),
        "admin_shutdown": asyncpg.AdminShutdownError("terminating connection"),
        "nul": asyncpg.CharacterNotInRepertoireError("invalid byte sequence: 0x00"),
        "bug": ZeroDivisionError("a bug"),
    }
    raise errors[kind]


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestGuard, max_body_bytes=1000, body_limits={"/big/": 5000})
    install_problem_handlers(app)
    app.include_router(router)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def _stream(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 100):
        yield b"x" * 100


async def test_a_body_within_its_limit_is_read(client: httpx.AsyncClient) -> None:
    assert (await client.post("/small", content=b"x" * 1000)).json() == {"read": 1000}
    assert (await client.post("/big/upload", content=b"x" * 5000)).json() == {"read": 5000}


@pytest.mark.parametrize(("path", "limit"), [("/small", 1000), ("/big/upload", 5000)])
async def test_a_declared_body_over_the_limit_is_a_413(
    client: httpx.AsyncClient, path: str, limit: int
) -> None:
    resp = await client.post(path, content=b"x" * (limit + 1))
    assert resp.status_code == 413
    assert resp.json()["code"] == "payload_too_large"
    assert resp.json()["limit_bytes"] == limit


async def test_a_streamed_body_is_cut_off_at_the_limit(client: httpx.AsyncClient) -> None:
    resp = await client.post("/small", content=_stream(3000))
    assert resp.status_code == 413
    assert resp.json()["limit_bytes"] == 1000


@pytest.mark.parametrize("raw", ["%00", "%0A", "%1f", "%7F", "a%0Db"])
async def test_control_characters_in_the_path_are_a_400(
    client: httpx.AsyncClient, raw: str
) -> None:
    resp = await client.get(f"/things/{raw}")
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_path"


async def test_encoded_printable_characters_pass(client: httpx.AsyncClient) -> None:
    assert (await client.get("/things/a%23b%3Fc")).json() == {"id": "a#b?c"}


async def test_405_lists_the_methods_of_every_route_on_the_path(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.delete("/things/x")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, PUT"
    assert resp.json()["allowed_methods"] == ["GET", "PUT"]


@pytest.mark.parametrize("kind", ["refused", "admin_shutdown"])
async def test_a_database_outage_is_a_503_with_retry_after(
    client: httpx.AsyncClient, kind: str
) -> None:
    resp = await client.get(f"/fail/{kind}")
    assert resp.status_code == 503
    assert resp.json()["code"] == "upstream_unavailable"
    assert resp.headers["retry-after"] == "2"


async def test_a_value_the_database_refuses_is_a_422(client: httpx.AsyncClient) -> None:
    resp = await client.get("/fail/nul")
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_value"


async def test_a_bug_is_still_a_500(client: httpx.AsyncClient) -> None:
    resp = await client.get("/fail/bug")
    assert resp.status_code == 500
    assert resp.json()["code"] == "internal_error"


def _wrapped(orig: Exception, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


class _Adapted(Exception):
    """SQLAlchemy's asyncpg adapter error: the SQLSTATE as an attribute."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_wrapped(_Adapted("40001")), DbFailure.UNAVAILABLE),  # serialization failure
        (_wrapped(_Adapted("40P01")), DbFailure.UNAVAILABLE),  # deadlock
        (_wrapped(_Adapted("57P01")), DbFailure.UNAVAILABLE),  # admin shutdown
        (_wrapped(_Adapted("08006")), DbFailure.UNAVAILABLE),  # connection failure
        (_wrapped(_Adapted("53300")), DbFailure.UNAVAILABLE),  # too many connections
        (_wrapped(_Adapted("XX000"), invalidated=True), DbFailure.UNAVAILABLE),
        (_wrapped(_Adapted("22021")), DbFailure.INVALID_INPUT),  # NUL in text
        (_wrapped(_Adapted("22003")), DbFailure.INVALID_INPUT),  # numeric out of range
        (_wrapped(_Adapted("23505")), None),  # a unique violation is the code's business
        (_wrapped(_Adapted("42P01")), None),  # undefined table: a bug
        (sa_exc.TimeoutError("QueuePool limit"), DbFailure.UNAVAILABLE),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), DbFailure.UNAVAILABLE),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), DbFailure.UNAVAILABLE),
        (
            asyncpg.CannotConnectNowError("the database system is starting up"),
            DbFailure.UNAVAILABLE,
        ),
        (asyncpg.DataError("invalid input for query argument $1"), DbFailure.INVALID_INPUT),
        (asyncpg.UniqueViolationError("duplicate key"), None),
        (ValueError("not a database error"), None),
    ],
)
def test_database_errors_are_classified_by_sqlstate_and_type(
    error: BaseException, expected: DbFailure | None
) -> None:
    assert classify_db_error(error) is expected


def _flush() -> None:
    try:
        raise asyncpg.AdminShutdownError("terminating connection")
    except asyncpg.PostgresError as inner:
        raise RuntimeError("while flushing") from inner


def test_the_cause_chain_is_followed() -> None:
    with pytest.raises(RuntimeError) as caught:
        _flush()
    assert classify_db_error(caught.value) is DbFailure.UNAVAILABLE


def test_a_validation_refusal_names_the_field_as_its_author_writes_it() -> None:
    from cortex_kit.web import field_path

    assert field_path(["body", "events", "0", "deployment", "service"]) == (
        "events[0].deployment.service"
    )
    assert field_path(["query", "limit"]) == "limit"
    assert field_path(["body"]) == "body"
