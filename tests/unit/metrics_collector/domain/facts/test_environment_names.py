"""Environments follow the one identity rule of services (case-folded, NFC): at every door,
in the query filter, and for facts stored before the rule applied to environments."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import DeploymentRecorded, DeploymentStatus, IncidentRecorded
from cortex_contracts.names import canonical_name
from metrics_collector.domain.facts.mapping import to_fact
from metrics_collector.domain.facts.model import Deployment, Incident, fact_from_stored
from metrics_collector.dora.service import parse_query

T = datetime(2025, 3, 3, 10, tzinfo=UTC)


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _deployment(environment: str) -> DeploymentRecorded:
    return DeploymentRecorded(
        deployment_id="d1",
        service="Checkout",
        environment=environment,
        status=DeploymentStatus.DEPLOYMENT_STATUS_SUCCEEDED,
        started_at=_stamp(T),
        finished_at=_stamp(T),
    )


def _stored(payload: DeploymentRecorded | IncidentRecorded) -> tuple[str | None, dict[str, object]]:
    fact = to_fact(payload, agency="acme", envelope_id="e1", source="rest", occurred_at=T)
    return fact.environment, fact.facts


def test_a_deployment_environment_is_stored_canonical_with_the_name_as_sent_kept() -> None:
    environment, facts = _stored(_deployment("Production"))
    assert environment == "production"
    assert (facts["environment"], facts["environment_name"]) == ("production", "Production")


def test_an_incident_environment_is_stored_canonical() -> None:
    incident = IncidentRecorded(
        incident_id="i1", service="checkout", environment="STAGING", opened_at=_stamp(T)
    )
    assert _stored(incident)[0] == "staging"


def test_a_canonical_environment_keeps_no_second_name() -> None:
    environment, facts = _stored(_deployment("production"))
    assert environment == "production"
    assert "environment_name" not in facts


def test_a_fact_stored_before_the_rule_is_read_under_the_canonical_environment() -> None:
    legacy = {"service": "checkout", "environment": "Production", "status": "succeeded"}
    deployment = fact_from_stored("deployment", legacy, event_id="d1", occurred_at=T)
    incident = fact_from_stored(
        "incident", {"service": "checkout", "environment": "Prod-EU"}, event_id="i", occurred_at=T
    )
    assert isinstance(deployment, Deployment)
    assert deployment.environment == "production"
    assert isinstance(incident, Incident)
    assert incident.environment == "prod-eu"


def test_the_query_filter_uses_the_same_rule() -> None:
    def environment(raw: str) -> str | None:
        query = parse_query(
            service=None, environment=raw, start=None, end=None, bucket=None, now=T, max_days=731
        )
        return query.environment

    assert environment("PRODUCTION") == "production"
    assert environment("Cafe\u0301") == environment("CAFÉ") == "café"
    assert environment("*") is None


def test_services_and_environments_share_one_canonical_rule() -> None:
    assert canonical_name(" Straße ") == "strasse"
    assert canonical_name("生产") == "生产"
