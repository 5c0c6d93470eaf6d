"""The decision log on real PostgreSQL: rows and their outbox events, one transaction a batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cortex_contracts import DecisionRecorded, PolicyViolation, decode, new_event_id, unpack
from cortex_kit.db import Database
from cortex_kit.migrations import upgrade_to_head
from policy_engine.domain.decisions.decision import DecisionResult, Reason
from policy_engine.evaluation import decision_log
from policy_engine.evaluation.decision_log import DecisionLog, LoggedDecision, stored_json
from policy_engine.models import decisions, messaging

MIGRATIONS = Path(decision_log.__file__).parents[1] / "migrations"
DENIED = Reason(
    code="rule_denied",
    severity="high",
    effect="deny",
    message="no writes to prod",
    remediation="write to staging",
    docs_url="https://codevald.io/cortex/docs/policies#rule_denied",
    rule_id="r1",
    version=2,
    layer="agency",
    actual=7,
    limit=5,
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade_to_head(database, MIGRATIONS, "policy")
    try:
        yield database
    finally:
        await database.dispose()


def logged(n: int, *, deny: bool = False, **changes: Any) -> LoggedDecision:
    result = DecisionResult("deny", 0.9, (DENIED,)) if deny else DecisionResult("allow", 0.1)
    fields: dict[str, Any] = {
        "decision_id": new_event_id(),
        "agency": "acme",
        "agent_id": f"agent-{n}",
        "action_type": "db.write",
        "resource": "orders",
        "deployment_id": None,
        "result": result,
        "policy_version": "org:1+agency:2",
        "evaluated_us": 12.5,
        "created_at": datetime.now(UTC),
        "input_json": stored_json({"request": {"agent_id": f"agent-{n}"}, "context": {"n": n}}),
    }
    return LoggedDecision(**{**fields, **changes})


async def stored(db: Database) -> tuple[list[dict[str, Any]], list[object]]:
    async with db.session() as session:
        rows = (await session.execute(select(decisions).order_by(decisions.c.agent_id))).mappings()
        found = [dict(r) for r in rows]
        outbox = messaging.outbox
        datas = (await session.execute(select(outbox.c.data).order_by(outbox.c.seq))).scalars()
        events = [unpack(decode(data)) for data in datas]
    return found, events


async def test_a_batch_of_many_chunks_is_stored_with_its_events(db: Database) -> None:
    batch = [logged(n, deny=n % 3 == 0) for n in range(decision_log.CHUNK * 2 + 5)]
    await DecisionLog(db, messaging.outbox).write(batch)
    rows, events = await stored(db)
    assert sorted(r["decision_id"] for r in rows) == sorted(d.decision_id for d in batch)
    row = next(r for r in rows if r["agent_id"] == "agent-0")
    assert row["decision"] == "deny"
    assert row["reasons"] == [DENIED._asdict()]
    assert row["input"] == {"request": {"agent_id": "agent-0"}, "context": {"n": 0}}
    recorded = [e for e in events if isinstance(e, DecisionRecorded)]
    assert [e.decision_id for e in recorded] == [d.decision_id for d in batch]
    violations = [e for e in events if isinstance(e, PolicyViolation)]
    assert len(violations) == len([d for d in batch if d.result.decision == "deny"])


async def test_a_failed_chunk_leaves_nothing_of_its_batch(db: Database) -> None:
    batch = [logged(n) for n in range(decision_log.CHUNK + 1)]
    batch[-1] = logged(99, agency="Not A Slug")  # the events of the last chunk cannot be packed
    with pytest.raises(ValueError, match="agency"):
        await DecisionLog(db, messaging.outbox).write(batch)
    rows, events = await stored(db)
    assert (rows, events) == ([], [])


async def test_a_decision_written_twice_is_stored_once(db: Database) -> None:
    decision = logged(1)
    log = DecisionLog(db, messaging.outbox)
    await log.write([decision])
    await log.write([decision])  # a retried flush whose first commit did land
    async with db.session() as session:
        count = await session.scalar(select(func.count()).select_from(decisions))
    assert count == 1


async def test_text_postgresql_refuses_is_stored_instead_of_failing_the_batch(
    db: Database,
) -> None:
    nul = "a\x00b"
    batch = [
        logged(1),
        logged(
            2, agent_id=nul, input_json=stored_json({"context": {nul: [nul, "\\u0000", 1e400]}})
        ),
    ]
    await DecisionLog(db, messaging.outbox).write(batch)
    rows, _ = await stored(db)
    assert len(rows) == 2
    odd = next(r for r in rows if r["decision_id"] == batch[1].decision_id)
    assert odd["agent_id"] == "a\ufffdb"
    assert odd["input"] == {"context": {"a\ufffdb": ["a\ufffdb", "\\u0000", None]}}
