"""Tenancy matrix (issue 14): every public route, every role, its own agency and a foreign one.

The routes are the gateway's OpenAPI document — the route table as the gateway serves it — so a
new route fails here until it is classified in ``ACCESS`` (who may call it, and how it names
its agency). For each route and each role of agency ``acme``:

- a role the route does not allow is refused ``403 role_forbidden``;
- an allowed role is never refused for its role or agency on its own agency (any other answer,
  a 404 for a made-up id or a 422 for an empty body, means it got past auth and tenancy);
- an allowed role naming the foreign agency ``globex`` is refused ``403 agency_forbidden``
  (a key id of another agency is ``404``, as an unknown one);
- what an own-agency read answers never mentions the foreign agency, whose data exists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

import httpx
import pytest

from .conftest import Cluster
from .test_auth import create_key

ROLES = ("admin", "policy-admin", "deployer", "approver", "agent", "viewer")
ANY = frozenset(ROLES)
Scope = Literal["path", "query", "body", "global", "org_write", "key_id", "signature"]
OWN, FOREIGN = "acme", "globex"
MARK = "globex-private"  # in the foreign agency's data; never in an answer to acme


@dataclass(frozen=True)
class Access:
    roles: frozenset[str]
    scope: Scope  # where the agency goes: the {agency} path parameter, ?agency=, the body …


def roles(*names: str) -> frozenset[str]:
    return frozenset({"admin", *names})


ACCESS: dict[str, Access] = {
    "GET /v1/agencies/{agency}/policy": Access(ANY, "path"),
    "PUT /v1/agencies/{agency}/policy": Access(roles("policy-admin"), "path"),
    "POST /v1/agencies/{agency}/policy/{action}": Access(roles("policy-admin"), "path"),
    "GET /v1/agencies/{agency}/policy/{view}": Access(ANY, "path"),
    "GET /v1/agencies/{agency}/wizard": Access(roles("policy-admin"), "path"),
    "POST /v1/agencies/{agency}/wizard/publish": Access(roles("policy-admin"), "path"),
    "PUT /v1/agencies/{agency}/wizard/{step}": Access(roles("policy-admin"), "path"),
    "GET /v1/agents": Access(ANY, "query"),
    "POST /v1/agents": Access(roles("agent", "deployer"), "query"),
    "GET /v1/agents/{agent_id}": Access(ANY, "query"),
    "GET /v1/agents/{agent_id}/desired": Access(roles("agent", "deployer"), "query"),
    "PUT /v1/agents/{agent_id}/desired": Access(roles("deployer"), "query"),
    "POST /v1/agents/{agent_id}/heartbeat": Access(roles("agent", "deployer"), "query"),
    "GET /v1/deployments": Access(ANY, "query"),
    "POST /v1/deployments": Access(roles("deployer"), "query"),
    "GET /v1/deployments/{deployment_id}": Access(ANY, "query"),
    "POST /v1/deployments/{deployment_id}/abort": Access(roles("deployer"), "query"),
    "POST /v1/deployments/{deployment_id}/pause": Access(roles("deployer"), "query"),
    "POST /v1/deployments/{deployment_id}/resume": Access(roles("deployer"), "query"),
    "POST /v1/deployments/{deployment_id}/rollback": Access(roles("deployer"), "query"),
    "GET /v1/approvals": Access(ANY, "query"),
    "POST /v1/approvals": Access(roles("deployer", "agent"), "query"),
    "POST /v1/approvals/decisions": Access(roles("approver"), "query"),
    "DELETE /v1/approvals/notifications": Access(roles(), "query"),
    "GET /v1/approvals/notifications": Access(ANY, "query"),
    "PUT /v1/approvals/notifications": Access(roles(), "query"),
    "GET /v1/approvals/{approval_id}": Access(ANY, "query"),
    "POST /v1/approvals/{approval_id}/decisions": Access(roles("approver"), "query"),
    "POST /v1/authorize": Access(roles("agent"), "query"),
    "GET /v1/audit": Access(roles("viewer"), "query"),
    "GET /v1/audit/verify": Access(roles(), "org_write"),
    "GET /v1/decisions": Access(ANY, "query"),
    "GET /v1/decisions/{decision_id}": Access(ANY, "query"),
    "POST /v1/decisions/{decision_id}/usage": Access(roles("agent"), "query"),
    "GET /v1/events": Access(ANY, "query"),
    "POST /v1/events": Access(roles("deployer"), "query"),
    "GET /v1/events/{kind}/{event_id}": Access(ANY, "query"),
    "GET /v1/keys": Access(roles(), "global"),
    "POST /v1/keys": Access(roles(), "body"),
    "DELETE /v1/keys/{key_id}": Access(roles(), "key_id"),
    "GET /v1/metrics/dora": Access(ANY, "query"),
    "GET /v1/metrics/dora/schema": Access(ANY, "global"),
    "GET /v1/metrics/mappings": Access(ANY, "query"),
    "PUT /v1/metrics/mappings": Access(roles("policy-admin"), "query"),
    "GET /v1/metrics/mappings/versions": Access(ANY, "query"),
    "GET /v1/metrics/settings": Access(ANY, "query"),
    "PUT /v1/metrics/settings": Access(roles("policy-admin"), "query"),
    "GET /v1/org/policy": Access(ANY, "global"),
    "PUT /v1/org/policy": Access(roles(), "org_write"),
    "POST /v1/org/policy/rollback": Access(roles(), "org_write"),
    "GET /v1/org/policy/versions": Access(ANY, "global"),
    "GET /v1/policies/schema": Access(ANY, "global"),
    "GET /v1/trail/{trail_id}": Access(ANY, "query"),
    "GET /v1/trail/{trail_id}/postmortem": Access(ANY, "query"),
    "POST /v1/preflight": Access(roles("deployer"), "query"),
    "POST /v1/policies/validate": Access(ANY, "global"),
    "POST /v1/webhooks/github": Access(frozenset(), "signature"),
    "POST /v1/webhooks/gitlab": Access(frozenset(), "signature"),
    "POST /v1/webhooks/pagerduty": Access(frozenset(), "signature"),
    "DELETE /v1/webhooks/{provider}/secret": Access(roles("policy-admin"), "query"),
    "GET /v1/webhooks/{provider}/secret": Access(ANY, "query"),
    "PUT /v1/webhooks/{provider}/secret": Access(roles("policy-admin"), "query"),
}
PARAMS = {
    "action": "rollback",
    "view": "versions",
    "step": "basics",
    "provider": "github",
    "kind": "deployment",
}
BODIES: dict[str, dict[str, object]] = {
    # Routes whose body the gateway validates before it resolves the agency: a valid one, so
    # the agency check is what answers.
    "POST /v1/events": {
        "events": [
            {
                "type": "change",
                "id": "c-tenancy",
                "commit_sha": "c" * 40,
                "repo": "github.com/acme/checkout",
                "service": "checkout",
                "committed_at": "2026-11-20T10:00:00Z",
            }
        ]
    },
    "PUT /v1/webhooks/{provider}/secret": {"secret": "whsec-0123456789abcdef"},
}
REFUSALS = {"role_forbidden", "agency_forbidden", "org_admin_required", "invalid_api_key"}


def _routes(document: dict[str, object]) -> list[str]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return sorted(f"{method.upper()} {path}" for path, item in paths.items() for method in item)


async def test_every_public_route_is_classified(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        document = (await admin.get("/openapi.json")).json()

    routes = set(_routes(document))

    assert routes - ACCESS.keys() == set(), "classify the new routes in ACCESS"
    assert ACCESS.keys() - routes == set(), "routes that no longer exist"


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    params: dict[str, str]
    body: dict[str, object] | None


def _call(route: str, agency: str, scope: Scope, foreign_key_id: str) -> Call:
    method, template = route.split(" ", 1)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "agency":
            return agency
        if name == "key_id":
            return foreign_key_id if agency == FOREIGN else "000000000000"
        return PARAMS.get(name, "x-1")

    url = re.sub(r"\{(\w+)\}", fill, template)
    params = {"agency": agency} if scope == "query" else {}
    body: dict[str, object] | None = None
    if method in {"POST", "PUT"}:
        body = {"agency": agency, "role": "viewer", "name": "t"} if scope == "body" else {}
        body = BODIES.get(route, body)
    return Call(method, url, params, body)


async def _send(client: httpx.AsyncClient, call: Call) -> httpx.Response:
    return await client.request(
        call.method,
        call.url,
        params=call.params,
        content=None if call.body is None else json.dumps(call.body),
        headers={"content-type": "application/json"} if call.body is not None else {},
    )


def _code(resp: httpx.Response) -> str | None:
    if not resp.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    code = resp.json().get("code")
    return str(code) if code is not None else None


async def _seed_foreign(cluster: Cluster) -> str:
    """Data of the foreign agency, each carrying ``MARK``; the id of one of its keys."""
    async with cluster.client() as org_admin:
        key = await org_admin.post(
            "/v1/keys", json={"agency": FOREIGN, "role": "viewer", "name": MARK}
        )
        assert key.status_code == 201, key.text
        event = {
            "type": "change",
            "id": f"{MARK}-1",
            "commit_sha": "b" * 40,
            "repo": f"github.com/{FOREIGN}/{MARK}",
            "service": MARK,
            "committed_at": "2026-11-20T10:00:00Z",
        }
        sent = await org_admin.post(
            "/v1/events", params={"agency": FOREIGN}, json={"events": [event]}
        )
        assert sent.status_code in (200, 202), sent.text
        approval = {
            "subject": {"kind": "action", "id": MARK, "input_hash": "sha256:" + "0" * 64},
            "summary": MARK,
            "required_roles": ["approver"],
        }
        asked = await org_admin.post("/v1/approvals", params={"agency": FOREIGN}, json=approval)
        assert asked.status_code in (200, 201), asked.text
    return str(key.json()["id"])


@pytest.fixture
async def keys(cluster: Cluster) -> dict[str, str]:
    return {role: await create_key(cluster, OWN, role) for role in ROLES}


@pytest.mark.slow
async def test_roles_and_agencies_on_every_route(cluster: Cluster, keys: dict[str, str]) -> None:
    foreign_key_id = await _seed_foreign(cluster)
    wrong: list[str] = []
    for route, access in sorted(ACCESS.items()):
        if access.scope == "signature":
            continue  # webhooks: the provider's signature, no key (test_webhooks.py)
        for role in ROLES:
            async with cluster.client(key=keys[role]) as client:
                own = await _send(client, _call(route, OWN, access.scope, foreign_key_id))
                foreign = await _send(client, _call(route, FOREIGN, access.scope, foreign_key_id))
            wrong += _judge(route, access, role, own, foreign)
    assert wrong == [], "\n".join(wrong)


def _judge(
    route: str, access: Access, role: str, own: httpx.Response, foreign: httpx.Response
) -> list[str]:
    where = f"{route} as {role}"
    if access.scope == "org_write":  # only an org-wide admin: no agency key, not even admin
        want = "org_admin_required" if role == "admin" else "role_forbidden"
        return [] if _code(own) == want else [f"{where}: {own.status_code} {_code(own)}"]
    if role not in access.roles:
        problems = []
        for side, resp in (("own", own), ("foreign", foreign)):
            if resp.status_code != 403 or _code(resp) != "role_forbidden":
                problems.append(f"{where} ({side}): {resp.status_code} {_code(resp)}")
        return problems
    problems = []
    if (own.status_code in (401, 403) and _code(own) in REFUSALS) or own.status_code >= 500:
        problems.append(f"{where} (own): {own.status_code} {_code(own)} {own.text[:200]}")
    if route.startswith("GET ") and MARK in own.text:
        problems.append(f"{where} (own): answers the foreign agency's data")
    if access.scope == "global":
        return problems
    if access.scope == "key_id":
        if foreign.status_code != 404:
            problems.append(f"{where} (foreign key): {foreign.status_code} {_code(foreign)}")
    elif foreign.status_code != 403 or _code(foreign) != "agency_forbidden":
        problems.append(f"{where} (foreign): {foreign.status_code} {_code(foreign)}")
    return problems
