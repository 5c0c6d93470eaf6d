"""The one name rule (cortex_contracts.names) at every door: REST, webhook URLs, webhook
payloads, the collector."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from cortex_contracts import DeploymentRecorded
from cortex_contracts.names import name_problem
from gateway.events.schemas import EventBatch
from gateway.webhooks.mapping import Overrides, PayloadError, map_delivery, slug
from gateway.webhooks.signatures import Provider
from metrics_collector.domain.facts.mapping import to_fact
from metrics_collector.domain.facts.model import canonical_service

REAL_NAMES = [".github", "生产", "支付", "Checkout API", "team/payments", "Straße", "उत्पादन"]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_names_real_tools_produce_are_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "fix_first"),
    [
        ("check\x01out", "remove or replace the control character U+0001 at position 5"),
        ("x" * 201, "shorten it to 200 characters (it has 201)"),
        ("...", "add a letter or digit"),
        ("a!b", "remove or replace U+0021 '!' at position 1"),
        ("  ", "is empty"),
    ],
)
def test_a_refusal_says_the_fix_first(name: str, fix_first: str) -> None:
    problem = name_problem(name)
    assert problem is not None
    assert problem.startswith(fix_first)


def _deployment(service: str, environment: str) -> dict[str, Any]:
    return {
        "type": "deployment",
        "id": "d-1",
        "service": service,
        "environment": environment,
        "status": "succeeded",
        "started_at": "2026-11-20T11:00:00Z",
    }


def test_rest_accepts_real_names_and_keeps_them_as_sent() -> None:
    batch = EventBatch.model_validate(
        {"events": [_deployment(".github", "生产"), _deployment(" Checkout API ", "支付")]}
    )
    assert [(e.service, e.environment) for e in batch.events] == [  # type: ignore[union-attr]
        (".github", "生产"),
        ("Checkout API", "支付"),
    ]


def test_rest_refuses_a_bad_name_with_its_field_and_the_fix() -> None:
    with pytest.raises(ValidationError) as caught:
        EventBatch.model_validate({"events": [_deployment("a\x07b", "x" * 201)]})
    errors = {e["loc"][-1]: e["msg"] for e in caught.value.errors()}
    assert errors["service"].startswith("Value error, remove or replace the control character")
    assert errors["environment"].startswith("Value error, shorten it to 200 characters")


def test_slug_keeps_every_script_and_a_leading_dot() -> None:
    assert slug("生产") == "生产"
    assert slug(".github") == ".github"
    assert slug("Production \u2013 EU") == "production-eu"
    assert slug("My Mail Service") == "my-mail-service"


def _pagerduty(service: str) -> dict[str, Any]:
    return {
        "event": {
            "id": "e-1",
            "event_type": "incident.triggered",
            "occurred_at": "2026-11-20T12:00:00Z",
            "data": {
                "id": "P1",
                "created_at": "2026-11-20T12:00:00Z",
                "service": {"summary": service},
                "urgency": "high",
            },
        }
    }


def test_a_webhook_maps_non_ascii_names() -> None:
    mapped = map_delivery(Provider.PAGERDUTY, None, _pagerduty("支付"), Overrides(None, "生产"))
    [incident] = mapped.events
    assert (incident.service, incident.environment) == ("支付", "生产")  # type: ignore[union-attr]


def test_a_webhook_environment_without_a_letter_says_to_name_it_in_the_url() -> None:
    with pytest.raises(PayloadError, match=r"^environment: .*add \?environment= to the webhook"):
        map_delivery(Provider.PAGERDUTY, None, _pagerduty("支付"), Overrides(None, "!!!"))


def test_the_identity_is_case_folded_and_composed() -> None:
    assert canonical_service("Checkout API") == "checkout api"
    assert canonical_service("Cafe\u0301") == canonical_service("CAFÉ") == "café"
    assert canonical_service("支付") == "支付"


def test_the_collector_refuses_a_bad_name_from_the_bus() -> None:
    payload = DeploymentRecorded(deployment_id="d-1", service="a!b", environment="生产")
    with pytest.raises(ValueError, match=r"^service: remove or replace U\+0021"):
        to_fact(payload, agency="acme", envelope_id="e", source="s", occurred_at=datetime.now(UTC))
    ok = DeploymentRecorded(deployment_id="d-1", service="支付", environment="生产")
    fact = to_fact(ok, agency="acme", envelope_id="e", source="s", occurred_at=datetime.now(UTC))
    assert (fact.service, fact.environment) == ("支付", "生产")
