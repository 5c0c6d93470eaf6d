"""Caches keyed by request values are bounded by evicting the least recently used entry,
never by emptying themselves (which let one burst of new keys flush every hot entry)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.auth.service import KeyCache
from gateway.domain.keys import Principal, Role
from policy_engine.domain.decisions.compiler import MEMO_LIMIT, memo_table, memoised
from policy_engine.evaluation.service import MAX_REMEMBERED_AGENTS, RecentViolations

ALICE = Principal(key_id="0123456789ab", role=Role.VIEWER, agency="acme")


def test_a_full_key_cache_forgets_the_least_recent_key_only() -> None:
    cache = KeyCache(ttl_s=60, max_keys=3)
    for token in ("a", "b", "c"):
        cache.put(token, ALICE)
    assert cache.get("a") == ALICE  # now the most recent
    cache.put("d", ALICE)
    assert [cache.get(t) is not None for t in ("a", "b", "c", "d")] == [True, False, True, True]


def test_a_key_cache_with_no_ttl_keeps_nothing() -> None:
    cache = KeyCache(ttl_s=0)
    cache.put("a", ALICE)
    assert cache.get("a") is None


def test_a_full_memo_table_keeps_its_hot_entries() -> None:
    memo = memo_table()
    calls: list[int] = []

    def compute(key: int) -> int:
        calls.append(key)
        return key * 2

    for key in range(MEMO_LIMIT):
        memoised(memo, key, compute)
    memoised(memo, 0, compute)  # touch the oldest
    memoised(memo, MEMO_LIMIT, compute)  # one more: evicts key 1, not everything
    calls.clear()
    memoised(memo, 0, compute)
    memoised(memo, 2, compute)
    memoised(memo, 1, compute)
    assert calls == [1]
    assert len(memo) == MEMO_LIMIT


def test_recent_violations_are_bounded_by_agents_seen_last() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    seen = RecentViolations()
    seen.record("acme", "hot", now)
    for i in range(MAX_REMEMBERED_AGENTS):
        seen.record("acme", f"agent-{i}", now)
        if i % 1000 == 0:
            assert seen.count("acme", "hot", now) == 1  # kept while it is in use
    assert seen.count("acme", "hot", now) == 1
    assert seen.count("acme", "agent-0", now) == 0  # the least recently seen went first
