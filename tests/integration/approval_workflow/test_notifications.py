"""Notifications end to end: a receiver served in the test verifies each signature; retries
until a 2xx, failure after the last attempt, a restart between the state change and the
delivery, two replicas, the configuration API's validation, and the secret kept secret."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from approval_workflow.models import notification_settings, notifications
from approval_workflow.notifications.signing import (
    ATTEMPT_HEADER,
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    verify,
)
from cortex_kit.db import Database
from cortex_kit.embedded import free_port
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET
from tests.integration.conftest import Served, serve_app

from .conftest import Start, client, request_body

FAST = {
    "notification_allow_private_urls": True,
    "notification_backoff_s": 0.05,
    "notification_max_backoff_s": 0.2,
    "notification_poll_interval_s": 0.1,
}


@dataclass
class Call:
    delivery: str
    event: str
    attempt: int
    signature: str
    body: bytes
    answered: int


@dataclass
class Receiver:
    """Answers ``fail`` (a status) to the first ``fail_first`` attempts of each delivery."""

    fail_first: int = 0
    fail: int = 503
    delay_s: float = 0.0
    calls: list[Call] = field(default_factory=list)
    served: Served | None = None

    @property
    def url(self) -> str:
        assert self.served is not None
        return f"{self.served.url}/hook/T000/B000/token"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook/T000/B000/token")
        async def hook(request: Request) -> Response:
            body = await request.body()
            delivery = request.headers[DELIVERY_HEADER]
            seen = sum(1 for c in self.calls if c.delivery == delivery)
            status = self.fail if seen < self.fail_first else 200
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            self.calls.append(
                Call(
                    delivery,
                    request.headers[EVENT_HEADER],
                    int(request.headers[ATTEMPT_HEADER]),
                    request.headers[SIGNATURE_HEADER],
                    body,
                    status,
                )
            )
            return Response("ok" if status == 200 else "try later", status_code=status)

        return app

    def delivered(self) -> Counter[str]:
        return Counter(c.delivery for c in self.calls if c.answered == 200)


Receive = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def receiver() -> Any:
    running: list[Receiver] = []

    async def make(**options: Any) -> Receiver:
        found = Receiver(**options)
        found.served = await serve_app(lambda _port: found.app())
        running.append(found)
        return found

    yield make
    for found in running:
        assert found.served is not None
        await found.served.stop()


async def until(probe: Callable[[], Awaitable[bool] | bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.05)


async def configure(served: Served, url: str, **body: Any) -> dict[str, Any]:
    async with client(served, "admin") as admin:
        answer = await admin.put(
            "/v1/approvals/notifications", json={"targets": [{"url": url}], **body}
        )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def queued(database_url: str) -> list[tuple[str, str, str]]:
    """(id, status, event) of every notification in the queue."""
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(notifications.c.id, notifications.c.status, notifications.c.event)
            )
            return [(r.id, r.status, r.event) for r in rows]
    finally:
        await db.dispose()


async def request_and_grant(served: Served, n: int = 0) -> str:
    subject = {"kind": "deployment", "id": f"dep-{n}", "input_hash": "sha256:" + "ab" * 32}
    async with client(served, "ci", team="payments") as ci:
        made = await ci.post("/v1/approvals", json=request_body(subject=subject, risk_score=0.82))
        assert made.status_code == 201, made.text
    approval_id: str = made.json()["id"]
    async with client(served, "ana", roles="sre") as ana:
        decided = await ana.post(
            f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"}
        )
        assert decided.json()["approval"]["status"] == "granted"
    return approval_id


async def test_a_request_and_its_grant_are_notified_signed_with_what_an_approver_needs(
    start: Start, receiver: Receive
) -> None:
    hook = await receiver()
    served = await start(**FAST, notification_link_template="https://cortex.test/a/{id}")
    config = await configure(served, hook.url)
    secret = config["secret"]
    assert secret.startswith("whsec_")
    approval_id = await request_and_grant(served)
    await until(lambda: len(hook.calls) == 2)
    by_event = {c.event: c for c in hook.calls}
    assert set(by_event) == {"approval.requested", "approval.granted"}
    for call in hook.calls:
        assert verify(secret, call.signature, call.body, now=time.time())
        assert not verify(secret, call.signature, call.body + b" ", now=time.time())
        assert not verify("whsec_another", call.signature, call.body, now=time.time())
    requested = json.loads(by_event["approval.requested"].body)
    text = requested["text"]
    for fact in ("prompt change to 1000 agents", "`dep-0`", "0.82", "`sre`", approval_id):
        assert fact in text, fact
    assert "https://cortex.test/a/" + approval_id in json.dumps(requested["blocks"])
    fields = " ".join(f["text"] for b in requested["blocks"] for f in b.get("fields", []))
    assert "ci (team `payments`)" in fields
    assert "1 approver; roles `sre`" in fields
    assert "<!date^" in fields  # the expiry, in the reader's time zone
    granted = json.loads(by_event["approval.granted"].body)
    assert "granted by ana" in granted["text"]
    assert granted["blocks"][0]["text"]["text"] == "Approval granted"
    async with client(served, "viewer") as viewer:
        seen = (await viewer.get("/v1/approvals/notifications")).json()
    assert seen["configured"] is True
    assert seen["secret"] is None
    assert seen["targets"][0]["url"] == hook.url.split("/hook")[0] + "/…"  # origin only
    await until(lambda: _delivered(served, 2))


async def _delivered(served: Served, n: int) -> bool:
    async with client(served, "viewer") as viewer:
        seen = (await viewer.get("/v1/approvals/notifications")).json()
    return bool(seen["deliveries"]["delivered"] == n and seen["deliveries"]["pending"] == 0)


async def test_a_receiver_failing_the_first_attempts_gets_the_notification_once_after_retries(
    start: Start, receiver: Receive, database_url: str
) -> None:
    hook = await receiver(fail_first=3)
    served = await start(**FAST)
    await configure(served, hook.url)
    async with client(served, "admin") as admin:
        only_requested = {"targets": [{"url": hook.url, "events": ["requested"]}]}
        assert (await admin.put("/v1/approvals/notifications", json=only_requested)).is_success
        assert (await admin.post("/v1/approvals", json=request_body())).status_code == 201
    await until(lambda: len(hook.delivered()) == 1)
    await asyncio.sleep(0.5)  # retries would have come by now
    [delivery] = hook.delivered()
    assert [(c.delivery, c.attempt, c.answered) for c in hook.calls] == [
        (delivery, 1, 503),
        (delivery, 2, 503),
        (delivery, 3, 503),
        (delivery, 4, 200),
    ]
    assert await queued(database_url) == [(delivery, "delivered", "requested")]


async def test_after_the_last_attempt_a_notification_is_failed_in_the_answer_and_the_metric(
    start: Start, receiver: Receive
) -> None:
    hook = await receiver(fail_first=100, fail=500)
    served = await start(**FAST, notification_max_attempts=3)
    await configure(served, hook.url)
    before = await _failed_metric(served)
    async with client(served, "ci") as ci:
        approval_id = (await ci.post("/v1/approvals", json=request_body())).json()["id"]

    async def failed() -> bool:
        async with client(served, "viewer") as viewer:
            seen = (await viewer.get("/v1/approvals/notifications")).json()
        return bool(seen["deliveries"]["failed"] == 1)

    await until(failed)
    async with client(served, "viewer") as viewer:
        seen = (await viewer.get("/v1/approvals/notifications")).json()
    [failure] = seen["failures"]
    assert (failure["approval_id"], failure["event"], failure["attempts"]) == (
        approval_id,
        "requested",
        3,
    )
    assert failure["last_status"] == 500
    assert "HTTP 500" in failure["last_error"]
    assert len(hook.calls) == 3
    assert await _failed_metric(served) == before + 1


async def _failed_metric(served: Served) -> float:
    async with client(served) as any_client:
        text = (await any_client.get("/metrics")).text
    line = 'cortex_approval_notifications_total{event="requested",result="failed"}'
    found = [ln for ln in text.splitlines() if ln.startswith(line)]
    return float(found[0].split()[-1]) if found else 0.0


async def test_a_restart_between_the_state_change_and_the_delivery_loses_and_doubles_nothing(
    start: Start, receiver: Receive, database_url: str
) -> None:
    hook = await receiver(fail_first=1)  # the first replica's attempts all fail
    first = await start(
        **{**FAST, "notification_backoff_s": 3.0, "notification_max_backoff_s": 3.0}
    )
    await configure(first, hook.url)
    for n in range(4):
        await request_and_grant(first, n)
    staged = await queued(database_url)
    assert len(staged) == 8  # requested and granted, each committed with its state change
    await until(lambda: len(hook.calls) == 8)  # each tried once and refused
    await first.stop()  # the retries are still due: nothing in memory survives this
    await asyncio.sleep(0.2)
    assert hook.delivered() == Counter()
    second = await start(**FAST)
    await until(lambda: len(hook.delivered()) == 8, timeout_s=30)
    await asyncio.sleep(0.5)
    assert hook.delivered() == Counter({id_: 1 for id_, _, _ in staged})
    assert {status for _, status, _ in await queued(database_url)} == {"delivered"}
    assert not second.task.done()


async def test_notifications_queued_while_no_replica_delivers_are_sent_after_a_restart(
    start: Start, receiver: Receive, database_url: str
) -> None:
    hook = await receiver()
    stager = await start(**FAST, notification_delivery=False)
    await configure(stager, hook.url)
    await request_and_grant(stager)
    await stager.stop()
    assert hook.calls == []
    await start(**FAST)
    await until(lambda: len(hook.calls) == 2)
    await asyncio.sleep(0.5)
    assert sorted(hook.delivered()) == sorted(id_ for id_, _, _ in await queued(database_url))
    assert len(hook.calls) == 2


async def test_two_replicas_deliver_each_notification_once(
    start: Start, receiver: Receive, database_url: str
) -> None:
    hook = await receiver(delay_s=0.02)
    one = await start(**FAST, notification_batch_size=3)
    two = await start(**FAST, notification_batch_size=3)
    await configure(one, hook.url)
    for n in range(15):
        await request_and_grant(one if n % 2 else two, n)
    await until(lambda: len(hook.delivered()) == 30, timeout_s=30)
    await asyncio.sleep(0.5)
    assert len(hook.calls) == 30  # none sent twice, none refused
    assert set(hook.delivered()) == {id_ for id_, _, _ in await queued(database_url)}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "hooks.example.com/no-scheme",
        "http:///no-host",
        "https://user:password@hooks.example.com/x",
        "https://hooks.example.com/x#fragment",
        "https://hooks.invalid/x",  # does not resolve
        "https://hooks.example.com:99999/x",
    ],
)
async def test_a_target_that_is_no_http_url_is_refused(start: Start, url: str) -> None:
    served = await start()
    async with client(served, "admin") as admin:
        answer = await admin.put("/v1/approvals/notifications", json={"targets": [{"url": url}]})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == "invalid_notification_url"
    assert problem["remediation"]
    assert problem["target"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_a_target_on_a_private_address_is_refused_unless_allowed(
    start: Start, url: str
) -> None:
    served = await start()
    body = {"targets": [{"url": "https://93.184.215.14/ok"}, {"url": url}]}
    async with client(served, "admin") as admin:
        answer = await admin.put("/v1/approvals/notifications", json=body)
    assert answer.status_code == 422
    problem = answer.json()
    assert (problem["code"], problem["target"]) == ("notification_url_forbidden", 1)
    assert "ALLOW_PRIVATE_URLS" in problem["remediation"]
    allowed = await start(notification_allow_private_urls=True)
    async with client(allowed, "admin") as admin:
        answer = await admin.put("/v1/approvals/notifications", json=body)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "body",
    [
        {"targets": []},
        {"targets": [{"url": "https://93.184.215.14/a", "events": ["decided"]}]},
        {"targets": [{"url": "https://93.184.215.14/a"}, {"url": "https://93.184.215.14/a"}]},
        {"targets": [{"url": "https://93.184.215.14/a"}], "secret": "short"},
        {"targets": [{"url": f"https://93.184.215.14/{n}"} for n in range(6)]},
    ],
)
async def test_a_configuration_the_service_cannot_use_is_refused(
    start: Start, body: dict[str, Any]
) -> None:
    served = await start()
    async with client(served, "admin") as admin:
        answer = await admin.put("/v1/approvals/notifications", json=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
    assert answer.json()["remediation"]


async def test_the_secret_is_never_answered_stored_in_clear_or_logged(
    receiver: Receive, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """The real process (``python -m approval_workflow``) at DEBUG, its logs read whole."""
    secret = "given-secret-" + "s3cr3t" * 5
    hook = await receiver(fail_first=1, fail=500)
    log = tmp_path / "service.log"
    async with subprocess_service(database_url, nats_url, log) as served:
        given = await configure(served, hook.url, secret=secret)
        assert given["secret"] is None  # given, so not answered back
        async with client(served, "ci") as ci:
            assert (await ci.post("/v1/approvals", json=request_body())).status_code == 201
        await until(lambda: len(hook.calls) == 1)  # sent (signed with it) and failed: logged
        assert verify(secret, hook.calls[0].signature, hook.calls[0].body, now=time.time())
        async with client(served, "viewer") as viewer:
            seen = await viewer.get("/v1/approvals/notifications")
        assert secret not in seen.text
        rotated = await configure(served, hook.url, rotate_secret=True)
        assert rotated["secret"].startswith("whsec_")
        async with client(served, "viewer") as viewer:
            assert rotated["secret"] not in (await viewer.get("/v1/approvals/notifications")).text
        await until(lambda: "approval.notification_failed" in log.read_text())
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            [token] = await session.scalars(select(notification_settings.c.secret_ciphertext))
    finally:
        await db.dispose()
    assert secret.encode() not in token
    assert rotated["secret"].encode() not in token
    logged = log.read_text()
    assert "approval.notification_failed" in logged  # the logs were read
    assert secret not in logged
    assert rotated["secret"] not in logged
    assert "/hook/T000/B000/token" not in logged  # nor the URL's token


@contextlib.asynccontextmanager
async def subprocess_service(database_url: str, nats_url: str, log: Path) -> AsyncIterator[Served]:
    port = free_port()
    env = {
        **os.environ,
        **{
            f"CORTEX_APPROVAL_WORKFLOW_{k}": v
            for k, v in {
                "PORT": str(port),
                "DATABASE_URL": database_url,
                "NATS_URL": nats_url,
                "INTERNAL_SECRET": TEST_INTERNAL_SECRET,
                "LOG_LEVEL": "DEBUG",
                "NOTIFICATION_ALLOW_PRIVATE_URLS": "true",
                "NOTIFICATION_MAX_ATTEMPTS": "1",
                "NOTIFICATION_POLL_INTERVAL_S": "0.1",
            }.items()
        },
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "approval_workflow", env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:

            async def ready() -> bool:
                assert proc.returncode is None, f"exited with {proc.returncode}"
                with contextlib.suppress(httpx.TransportError):
                    return (await probe.get(f"{url}/readyz")).status_code == 200
                return False

            await until(ready, timeout_s=60)
        yield Served(None, url, None, None)  # type: ignore[arg-type]  # a process, not an app
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 20)


async def test_removing_the_configuration_drops_what_is_queued(
    start: Start, receiver: Receive, database_url: str
) -> None:
    hook = await receiver()
    served = await start(**FAST, notification_delivery=False)
    await configure(served, hook.url)
    await request_and_grant(served)
    async with client(served, "admin") as admin:
        assert (await admin.delete("/v1/approvals/notifications")).status_code == 204
        assert (await admin.delete("/v1/approvals/notifications")).status_code == 204
        seen = (await admin.get("/v1/approvals/notifications")).json()
    assert (seen["configured"], seen["targets"], seen["deliveries"]["dropped"]) == (False, [], 2)
    assert {status for _, status, _ in await queued(database_url)} == {"dropped"}


async def test_an_expiry_and_a_supersession_are_notified(start: Start, receiver: Receive) -> None:
    hook = await receiver()
    served = await start(**FAST)
    await configure(served, hook.url)
    async with client(served, "ci") as ci:
        old = (await ci.post("/v1/approvals", json=request_body())).json()["id"]
        newer = (await ci.post("/v1/approvals", json=request_body(expires_in_s=1))).json()["id"]
        await until(lambda: len(hook.calls) == 4)  # 2 requested, superseded, expired
    events = sorted((c.event, json.loads(c.body)["text"]) for c in hook.calls)
    assert [e for e, _ in events] == [
        "approval.expired",
        "approval.requested",
        "approval.requested",
        "approval.superseded",
    ]
    assert newer in events[0][1]
    assert old in events[3][1]
    assert newer in events[3][1]
