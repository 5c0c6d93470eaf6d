from __future__ import annotations

import asyncio
from typing import Any

from cortex_contracts import PolicyPublished, encode, pack
from cortex_kit.testing.handlers import received, run_broadcast
from policy_engine.evaluation.cache import PolicyCache


class Loader:
    def __init__(self) -> None:
        self.version = 1
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, agency: str, team: str | None) -> tuple[Any, str] | None:
        self.calls += 1
        await self.gate.wait()
        return object(), f"agency:{self.version}"


async def test_one_load_for_concurrent_first_requests() -> None:
    loader = Loader()
    cache = PolicyCache(loader, max_age_s=60)
    entries = await asyncio.gather(*(cache.get("acme", None) for _ in range(10)))
    assert loader.calls == 1
    assert {e.version for e in entries} == {"agency:1"}


async def test_invalidation_reloads_on_next_request() -> None:
    loader = Loader()
    cache = PolicyCache(loader, max_age_s=60)
    await cache.get("acme", None)
    loader.version = 2
    cache.invalidate("globex")
    assert (await cache.get("acme", None)).version == "agency:1"
    cache.invalidate("acme")
    assert (await cache.get("acme", None)).version == "agency:2"


async def test_org_invalidation_drops_every_agency() -> None:
    loader = Loader()
    cache = PolicyCache(loader, max_age_s=60)
    await cache.get("acme", None)
    await cache.get("globex", "team-a")
    cache.invalidate("org")
    assert loader.calls == 2
    await cache.get("acme", None)
    await cache.get("globex", "team-a")
    assert loader.calls == 4


async def test_a_stale_entry_answers_at_once_and_refreshes_in_the_background() -> None:
    loader = Loader()
    cache = PolicyCache(loader, max_age_s=0.0)
    await cache.get("acme", None)
    loader.version = 2
    loader.gate.clear()  # the refresh blocks: the request must not
    stale = await asyncio.wait_for(cache.get("acme", None), 1)
    assert stale.version == "agency:1"
    loader.gate.set()
    for _ in range(100):
        if cache._entries[("acme", None)].version == "agency:2":
            break
        await asyncio.sleep(0.01)
    assert (await cache.get("acme", None)).version == "agency:2"


def _published(agency: str) -> bytes:
    return encode(
        pack(PolicyPublished(agency=agency, version=1), agency=agency, source="policy-engine")
    )


async def test_a_publication_drops_the_entries_of_its_agency_only() -> None:
    loader = Loader()
    cache = PolicyCache(loader, max_age_s=60)
    await cache.get("acme", None)
    await cache.get("globex", None)
    notices = cache.notices()
    await run_broadcast(notices, [received(notices, _published("acme"))])
    assert cache.invalidations == 1
    await cache.get("acme", None)
    await cache.get("globex", None)
    assert loader.calls == 3  # acme again, globex still cached


async def test_a_garbled_publication_drops_every_entry() -> None:
    loader = Loader()
    cache = PolicyCache(loader, max_age_s=60)
    await cache.get("acme", None)
    await cache.get("globex", None)
    notices = cache.notices()
    await run_broadcast(notices, [received(notices, b"\xffnot an envelope")])
    await cache.get("acme", None)
    await cache.get("globex", None)
    assert loader.calls == 4


class CountingLoader:
    """Records every load, and how many loads of one key ever ran at the same time."""

    def __init__(self) -> None:
        self.loads: list[tuple[str, str | None]] = []
        self.running: dict[tuple[str, str | None], int] = {}
        self.most_at_once = 0
        self.gates: dict[str, asyncio.Event] = {}

    async def __call__(self, agency: str, team: str | None) -> tuple[Any, str] | None:
        key = (agency, team)
        self.loads.append(key)
        self.running[key] = self.running.get(key, 0) + 1
        self.most_at_once = max(self.most_at_once, self.running[key])
        try:
            if agency in self.gates:
                await self.gates[agency].wait()
            return object(), f"{agency}:{self.loads.count(key)}"
        finally:
            self.running[key] -= 1


async def test_the_cache_keeps_its_bound_and_reloads_an_evicted_entry() -> None:
    loader = CountingLoader()
    cache = PolicyCache(loader, max_age_s=60, max_entries=3)
    for agency in ("a", "b", "c"):
        await cache.get(agency, None)
    await cache.get("a", None)  # now the most recent
    await cache.get("d", None)  # evicts b, the least recently used
    assert len(cache) == 3
    assert cache.loads_in_flight == 0  # no lock outlives its loads
    before = len(loader.loads)
    for agency in ("a", "c", "d"):
        assert (await cache.get(agency, None)).version == f"{agency}:1"
    assert len(loader.loads) == before  # kept: no load
    again = await cache.get("b", None)  # evicted: loaded again, and correct
    assert again.version == "b:2"
    assert again.compiled is not None
    assert loader.loads[before:] == [("b", None)]
    assert len(cache) == 3
    for n in range(100):  # many keys from requests: the bound holds
        await cache.get("acme", f"team-{n}")
    assert len(cache) == 3
    assert cache.loads_in_flight == 0


async def test_a_lock_in_use_is_never_dropped_under_eviction_pressure() -> None:
    loader = CountingLoader()
    loader.gates["a"] = asyncio.Event()
    cache = PolicyCache(loader, max_age_s=60, max_entries=2)
    first = asyncio.create_task(cache.get("a", None))  # its load blocks
    await asyncio.sleep(0)
    for n in range(50):  # every other key comes and goes meanwhile
        await cache.get(f"other-{n}", None)
    assert cache.loads_in_flight == 1  # a's lock alone: the others' went with their loads
    waiting = [asyncio.create_task(cache.get("a", None)) for _ in range(5)]
    await asyncio.sleep(0)
    assert loader.loads.count(("a", None)) == 1  # the late requests wait for the same load
    loader.gates["a"].set()
    entries = await asyncio.gather(first, *waiting)
    assert {e.version for e in entries} == {"a:1"}
    assert loader.loads.count(("a", None)) == 1
    assert loader.most_at_once == 1
    assert cache.loads_in_flight == 0


async def test_a_refresh_in_flight_and_a_load_of_the_evicted_key_never_race() -> None:
    loader = CountingLoader()
    cache = PolicyCache(loader, max_age_s=0.0, max_entries=1)
    await cache.get("a", None)
    loader.gates["a"] = asyncio.Event()
    stale = await cache.get("a", None)  # answered from the entry; a refresh starts, blocked
    assert stale.version == "a:1"
    await asyncio.sleep(0)
    await cache.get("b", None)  # evicts a's entry while its refresh holds the lock
    late = asyncio.create_task(cache.get("a", None))  # a miss: must wait for that refresh
    await asyncio.sleep(0)
    assert loader.loads.count(("a", None)) == 2
    loader.gates["a"].set()
    assert (await late).version == "a:2"  # the refresh's entry, not a second load beside it
    assert loader.most_at_once == 1
    await asyncio.sleep(0)
    assert cache.loads_in_flight == 0


async def test_a_cancelled_waiter_leaves_no_lock_behind() -> None:
    loader = CountingLoader()
    loader.gates["a"] = asyncio.Event()
    cache = PolicyCache(loader, max_age_s=60)
    first = asyncio.create_task(cache.get("a", None))
    waiter = asyncio.create_task(cache.get("a", None))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert cache.loads_in_flight == 1
    loader.gates["a"].set()
    await first
    assert cache.loads_in_flight == 0
