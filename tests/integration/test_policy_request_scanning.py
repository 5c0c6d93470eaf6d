"""Through the real engine (PostgreSQL, NATS): PII outside the payload, agencies without a policy.

The PII values are public test data: the Visa test card number, an example.org e-mail, an AWS
access key id in the ``AKIA`` + 16 form.
"""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from cortex_kit.db import Database
from policy_engine.models import decisions, messaging

from .conftest import Cluster
from .test_auth import create_key
from .test_policy_api import ORG, YAML, action, publish_baseline
from .test_policy_events import stream_payloads

CARD = "4111 1111 1111 1111"
EMAIL = "jane.doe@example.org"
AWS_KEY = "AKIA4HSQ7UZLKXRM3N6B"
RAW = (CARD, "4111111111111111", EMAIL, AWS_KEY)


def raw_in(text: str) -> list[str]:
    return [value for value in RAW if value in text]


async def stored_decision(cluster: Cluster, decision_id: str) -> str:
    """The decision's row and its outbox events, as text, once written."""
    db = Database(cluster.database_url)
    try:
        for _ in range(100):
            async with db.session() as session:
                row = (
                    (
                        await session.execute(
                            select(decisions).where(decisions.c.decision_id == decision_id)
                        )
                    )
                    .mappings()
                    .first()
                )
                events = (await session.execute(select(messaging.outbox.c.data))).scalars().all()
            if row is not None:
                return json.dumps({k: str(v) for k, v in dict(row).items()}) + repr(events)
            await asyncio.sleep(0.05)
    finally:
        await db.dispose()
    raise AssertionError(f"decision {decision_id} was never stored")


async def test_a_card_in_context_is_denied_and_nothing_raw_is_stored_or_published(
    cluster: Cluster,
) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)  # the org baseline denies CREDIT_CARD and SECRET
    body = {
        "agent_id": "a1",
        "action": action(resource=f"mailbox/{EMAIL}", labels={"owner": EMAIL}),
        "context": {"card": CARD, "note": f"ping {EMAIL}"},
        "payload": {"card": CARD, "to": EMAIL, "aws_access_key_id": AWS_KEY},
    }
    async with cluster.client(key=agent) as client:
        answer = (await client.post("/v1/authorize", json=body)).json()
        assert answer["decision"] == "deny", answer
        denied = [r for r in answer["reasons"] if r["code"] == "pii_denied"]
        card = next(r for r in denied if r["rule_id"] == "pii.entities.CREDIT_CARD")
        assert "context" in card["message"]
        assert "context" in card["remediation"]
        assert raw_in(json.dumps(answer["masked_payload"])) == []
        assert answer["masked_payload"]["card"] == "[CREDIT_CARD]"

        stored = await stored_decision(cluster, answer["decision_id"])
        assert raw_in(stored) == []
        read_back = (await client.get(f"/v1/decisions/{answer['decision_id']}")).json()
        assert raw_in(json.dumps(read_back)) == []
        assert read_back["input"]["request"]["context"]["card"] == "[CREDIT_CARD]"

    await asyncio.sleep(1.0)  # the outbox relay publishes
    published = [
        *await stream_payloads(cluster.nats_url, "cortex.decision.recorded.acme"),
        *await stream_payloads(cluster.nats_url, "cortex.policy.violation.acme"),
    ]
    mine = [p for p in published if getattr(p, "decision_id", "") == answer["decision_id"]]
    assert mine
    assert raw_in(" ".join(str(p) for p in mine)) == []


async def test_a_card_in_the_resource_alone_is_denied_and_published_masked(
    cluster: Cluster,
) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    body = {"agent_id": "a2", "action": action(resource=f"charge card {CARD}")}
    async with cluster.client(key=agent) as client:
        answer = (await client.post("/v1/authorize", json=body)).json()
    assert answer["decision"] == "deny", answer
    assert any("action.resource" in r["message"] for r in answer["reasons"])
    await asyncio.sleep(1.0)
    recorded = await stream_payloads(cluster.nats_url, "cortex.decision.recorded.acme")
    (event,) = [p for p in recorded if getattr(p, "decision_id", "") == answer["decision_id"]]
    assert event.resource == "charge card [CREDIT_CARD]"  # type: ignore[attr-defined]


async def test_an_agency_without_a_policy_is_denied_naming_what_to_publish(
    cluster: Cluster,
) -> None:
    agent = await create_key(cluster, "nopolicy", "agent")
    async with cluster.client() as admin:
        org = await admin.put("/v1/org/policy", content=ORG, headers=YAML)
        assert org.status_code == 201, org.text
    async with cluster.client(key=agent) as client:
        answer = (
            await client.post("/v1/authorize", json={"agent_id": "a", "action": action()})
        ).json()
    assert answer["decision"] == "deny"
    (reason,) = answer["reasons"]
    assert reason["code"] == "no_policy"
    assert "PUT /v1/agencies/nopolicy/policy" in reason["remediation"]
    assert "spec.agencies_without_policy: baseline" in reason["remediation"]


async def test_an_org_baseline_that_admits_agencies_without_a_policy_evaluates_them(
    cluster: Cluster,
) -> None:
    agent = await create_key(cluster, "nopolicy", "agent")
    admitting = ORG.replace("spec:\n", "spec:\n  agencies_without_policy: baseline\n", 1)
    async with cluster.client() as admin:
        schema = (await admin.get("/v1/policies/schema")).json()
        assert "agencies_without_policy" in schema["$defs"]["Spec"]["properties"]
        put = await admin.put("/v1/org/policy", content=admitting, headers=YAML)
        assert put.status_code == 201, put.text
    async with cluster.client(key=agent) as client:
        allowed = (
            await client.post("/v1/authorize", json={"agent_id": "a", "action": action()})
        ).json()
        assert allowed["decision"] == "allow", allowed
        assert allowed["policy_version"] == "org:1"
        # evaluated under the baseline: its model deny-list applies
        preview = action(model="gpt-5-preview")
        denied = (
            await client.post("/v1/authorize", json={"agent_id": "a", "action": preview})
        ).json()
        assert denied["decision"] == "deny"
        assert "model_denied" in {r["code"] for r in denied["reasons"]}
