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
