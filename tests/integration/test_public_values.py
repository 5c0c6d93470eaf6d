"""The real apps answer in the API's own words: no protobuf enum name in any public answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from tests.unit.test_public_values import protobuf_prefixes

from .conftest import Cluster
from .test_auth import create_key
from .test_events_flow import CHANGE, DEPLOY, wait_for
from .test_policy_api import action, publish_baseline

ROLLED_BACK = {**DEPLOY, "id": "d-2", "status": "rolled_back"}


def _strings(body: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(body, dict):
        for key, value in body.items():
            yield from _strings(value, f"{where}.{key}")
    elif isinstance(body, list):
        for n, item in enumerate(body):
            yield from _strings(item, f"{where}[{n}]")
    elif isinstance(body, str):
        yield where, body


async def _answers(cluster: Cluster) -> dict[str, httpx.Response]:
    agent = await create_key(cluster, "acme", "agent")
    answers: dict[str, httpx.Response] = {}
    async with cluster.client() as admin:
        await publish_baseline(admin)
        sent = {"agency": "acme", "events": [CHANGE, DEPLOY, ROLLED_BACK]}
        answers["POST /v1/events"] = await admin.post("/v1/events", json=sent)
        answers["GET /v1/events/deployment/d-2"] = await wait_for(
            admin, "/v1/events/deployment/d-2", agency="acme"
        )
        await wait_for(admin, "/v1/events/deployment/d-1", agency="acme")
        for path in (
            "/v1/events",
            "/v1/events/deployment/d-1",
            "/v1/metrics/settings",
            "/v1/agencies/acme/policy",
            "/v1/agencies/acme/policy/effective",
            "/v1/agencies/acme/policy/versions",
        ):
            answers[f"GET {path}"] = await admin.get(path, params={"agency": "acme"})
        window = {"agency": "acme", "from": "2026-11-01", "to": "2026-12-01", "bucket": "week"}
        answers["GET /v1/metrics/dora"] = await admin.get("/v1/metrics/dora", params=window)
    async with cluster.client(key=agent) as client:
        answers["POST /v1/authorize"] = await client.post(
            "/v1/authorize", json={"agent_id": "a1", "action": action()}
        )
        decision_id = answers["POST /v1/authorize"].json()["decision_id"]
        answers["GET /v1/decisions/{id}"] = await wait_for(client, f"/v1/decisions/{decision_id}")
        answers["GET /v1/decisions"] = await client.get("/v1/decisions")
    return answers


async def test_public_answers_use_the_words_requests_use(cluster: Cluster) -> None:
    answers = await _answers(cluster)
    for where, resp in answers.items():
        assert resp.status_code < 300, f"{where}: {resp.status_code} {resp.text}"
    deployment = answers["GET /v1/events/deployment/d-2"].json()["facts"]
    assert (deployment["status"], deployment["source"]) == ("rolled_back", "rest")
    pattern = protobuf_prefixes()
    leaks = [
        (where, path, text)
        for where, resp in answers.items()
        for path, text in _strings(resp.json())
        if pattern.match(text)
    ]
    assert leaks == []
