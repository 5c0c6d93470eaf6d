"""No answered decision is lost: the decision log commits before authorize answers.

The engine runs as deployed (``python -m policy_engine``) or served in-loop, on the real
PostgreSQL and NATS of the kit's pytest plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from cortex_kit.db import Database
from cortex_kit.embedded import free_port
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from policy_engine.models import decisions

from .conftest import Served, serve_app

AGENCY = "acme"
HEADERS = {"X-Cortex-Agency": AGENCY, "X-Cortex-Principal": "test"}
POLICY = """\
apiVersion: cortex.codevald.io/v1
kind: AIPolicy
metadata: {name: acme, agency: acme, layer: agency}
spec:
  models:
    allow: ["gpt-4o*"]
  autonomy:
    ceiling: L2
"""
LOOPS = 16


def body(n: int) -> dict[str, object]:
    model = "gpt-4o-mini" if n % 3 else "claude-3-5-sonnet"  # every third one is denied
    return {"agent_id": f"agent-{n % 7}", "action": {"type": "email.send", "model": model}}


async def publish(url: str) -> None:
    async with httpx.AsyncClient(headers=HEADERS, auth=signed()) as client:
        answer = await client.put(
            f"{url}/v1/agencies/{AGENCY}/policy",
            content=POLICY,
            headers={"Content-Type": "application/yaml"},
        )
        assert answer.status_code == 201, answer.text


async def authorize_loop(url: str, answered: list[str], offset: int) -> None:
    """Authorize until the engine goes away; the decision ids answered 200."""
    async with httpx.AsyncClient(headers=HEADERS, auth=signed(), timeout=5) as client:
        n = offset
        while True:
            try:
                answer = await client.post(f"{url}/v1/authorize", json=body(n))
            except httpx.TransportError:
                return
            assert answer.status_code == 200, answer.text
            answered.append(answer.json()["decision_id"])
            n += LOOPS


async def stored_ids(database_url: str, ids: list[str]) -> set[str]:
    db = Database(database_url)
    try:
        async with db.session() as session:
            found = await session.scalars(
                select(decisions.c.decision_id).where(decisions.c.decision_id.in_(ids))
            )
            return set(found)
    finally:
        await db.dispose()


@contextlib.contextmanager
def engine_process(database_url: str, nats_url: str, log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "CORTEX_POLICY_ENGINE_PORT": str(port),
        "CORTEX_POLICY_ENGINE_DATABASE_URL": database_url,
        "CORTEX_POLICY_ENGINE_NATS_URL": nats_url,
        "CORTEX_POLICY_ENGINE_LOG_LEVEL": "WARNING",
        "CORTEX_POLICY_ENGINE_LOG_JSON": "false",
        "CORTEX_POLICY_ENGINE_INTERNAL_SECRET": TEST_INTERNAL_SECRET,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "policy_engine"], env=env, stdout=out, stderr=out
        )
    try:
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


async def wait_ready(url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"policy-engine not ready:\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def test_every_decision_answered_200_is_in_the_log_after_kill_9(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "policy-engine.log"
    with engine_process(database_url, nats_url, log) as (url, pid):
        await wait_ready(url, log)
        await publish(url)
        answered: list[str] = []
        loops = [asyncio.create_task(authorize_loop(url, answered, i)) for i in range(LOOPS)]
        await asyncio.sleep(1.5)
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*loops), 10)
    assert len(answered) > 100, "too little load to mean anything"
    missing = set(answered) - await stored_ids(database_url, answered)
    assert not missing, f"{len(missing)} of {len(answered)} answered decisions are not in the log"


# a decision the log cannot take ---------------------------------------------------------------

REFUSE = [
    """CREATE FUNCTION policy.refuse_decisions() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'the decision log refuses writes (test)'; END $$""",
    """CREATE TRIGGER refuse BEFORE INSERT ON policy.decisions
       FOR EACH STATEMENT EXECUTE FUNCTION policy.refuse_decisions()""",
]


async def refuse_decision_writes(database_url: str, refuse: bool) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session:
            statements = REFUSE if refuse else ["DROP TRIGGER refuse ON policy.decisions"]
            for statement in statements:
                await session.execute(text(statement))
    finally:
        await db.dispose()


@pytest.fixture
async def engine(database_url: str, nats_url: str) -> AsyncIterator[Served]:
    served = await engine_in_loop(database_url, nats_url)
    try:
        yield served
    finally:
        await served.stop()


async def engine_in_loop(database_url: str, nats_url: str) -> Served:
    from policy_engine.app import create_app
    from policy_engine.settings import Settings

    served = await serve_app(
        lambda port: create_app(
            Settings(
                port=port,
                database_url=database_url,
                nats_url=nats_url,
                log_json=False,
                log_level="ERROR",
                internal_secret=TEST_INTERNAL_SECRET,
            )
        )
    )
    await publish(served.url)
    return served


async def test_a_decision_the_log_cannot_take_is_answered_503_never_200(
    engine: Served, database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=engine.url, headers=HEADERS, auth=signed()) as client:
        assert (await client.post("/v1/authorize", json=body(1))).status_code == 200
        await refuse_decision_writes(database_url, refuse=True)
        answers = await asyncio.gather(
            *(client.post("/v1/authorize", json=body(n)) for n in range(20))
        )
        assert [a.status_code for a in answers] == [503] * 20
        problem = answers[0].json()
        assert problem["code"] == "decision_log_unavailable"
        assert problem["remediation"]
        assert answers[0].headers["content-type"].startswith("application/problem+json")
        assert int(answers[0].headers["Retry-After"]) > 0
        await refuse_decision_writes(database_url, refuse=False)
        again = await client.post("/v1/authorize", json=body(1))
        assert again.status_code == 200
    assert await stored_ids(database_url, [again.json()["decision_id"]])
