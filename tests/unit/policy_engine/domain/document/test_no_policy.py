"""Agencies without a policy of their own: denied unless the org baseline admits them."""

from __future__ import annotations

import json

import pytest

from policy_engine.domain.decisions.checks import no_policy
from policy_engine.domain.document.inheritance import governs
from policy_engine.domain.document.loader import PolicyInvalid, parse_policy
from policy_engine.domain.document.schema import policy_json_schema
from tests.unit.policy_engine.builders import document, layered, policy_text


def test_an_org_baseline_alone_does_not_govern_an_agency() -> None:
    assert not governs(layered(document({})))
    assert not governs(layered(document({"agencies_without_policy": "deny"})))
    assert not governs([])


def test_an_org_baseline_that_admits_agencies_without_a_policy_governs_them() -> None:
    assert governs(layered(document({"agencies_without_policy": "baseline"})))


def test_an_agency_or_team_policy_governs_whatever_the_baseline_says() -> None:
    org = document({})
    assert governs(layered(org, document({}, layer="agency")))
    assert governs(layered(org, document({}, layer="team")))


@pytest.mark.parametrize(
    "metadata",
    ["{name: p, layer: agency, agency: acme}", "{name: p, layer: team, agency: acme, team: ops}"],
)
def test_only_the_org_baseline_may_admit_agencies_without_a_policy(metadata: str) -> None:
    with pytest.raises(PolicyInvalid) as refused:
        parse_policy(policy_text("agencies_without_policy: baseline", metadata=metadata))
    (issue,) = refused.value.issues
    assert issue.code == "org_only_setting"
    assert "agencies_without_policy" in issue.message
    assert issue.remediation


def test_the_org_baseline_may_admit_agencies_without_a_policy() -> None:
    parsed = parse_policy(policy_text("agencies_without_policy: baseline"))
    assert parsed.spec.agencies_without_policy == "baseline"


def test_the_served_json_schema_documents_the_setting() -> None:
    spec = policy_json_schema()["$defs"]["Spec"]["properties"]["agencies_without_policy"]
    text = json.dumps(spec)
    assert "baseline" in text
    assert "deny" in text
    assert "description" in text


def test_the_deny_names_the_agency_and_what_to_publish() -> None:
    result = no_policy("nopolicy")
    assert result.decision == "deny"
    (reason,) = result.reasons
    assert reason.code == "no_policy"
    assert "'nopolicy'" in reason.message
    assert "PUT /v1/agencies/nopolicy/policy" in reason.remediation
    assert "spec.agencies_without_policy: baseline" in reason.remediation
    assert reason.docs_url.endswith("#no_policy")
