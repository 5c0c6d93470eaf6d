"""The agency's delivery mapping (docs/metrics.md "Mappings"): repositories and PagerDuty
services → services, counted branches, environment aliases; the URL's query wins over it."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.mappings import (
    DeliveryMapping,
    IncidentServiceRule,
    RepositoryRule,
    environment_key,
    repository_key,
)
from gateway.events.schemas import ChangeEvent, DeploymentEvent, IncidentEvent
from gateway.mappings.errors import InvalidMapping
from gateway.mappings.service import MappingCache, parse_document
from gateway.webhooks.mapping import Overrides, map_delivery
from gateway.webhooks.signatures import Provider

SHA = "a" * 40
EU_NAME = "Production \u2013 EU"  # an en dash, as GitLab environments are often named
NONE = Overrides()
MAPPING = DeliveryMapping.build(
    7,
    repositories={
        "Acme/Payments-Monorepo": RepositoryRule("payments", ("main", "release/*")),
        "ghe.acme.internal/acme/payments-monorepo": RepositoryRule("payments-ghes"),
        "acme/docs": RepositoryRule(None, ()),
        "gitlab.com/acme/platform/billing": RepositoryRule("billing"),
    },
    incident_services={
        "PF9KMXH": IncidentServiceRule("payments", "production"),
        "Checkout API": IncidentServiceRule("checkout", "staging"),
    },
    environments={"prod": "production", EU_NAME: "production"},
)


def _repo(full_name: str, host: str = "github.com") -> dict[str, Any]:
    return {
        "name": full_name.rsplit("/", 1)[-1],
        "full_name": full_name,
        "html_url": f"https://{host}/{full_name}",
        "default_branch": "main",
    }


def _push(ref: str, full_name: str = "acme/payments-monorepo", host: str = "github.com") -> Any:
    return {
        "ref": ref,
        "repository": _repo(full_name, host),
        "commits": [{"id": SHA, "timestamp": "2025-03-03T10:00:00Z", "author": {}}],
    }


def _deployment_status(environment: str, full_name: str = "acme/payments-monorepo") -> Any:
    return {
        "repository": _repo(full_name),
        "deployment": {
            "id": 5,
            "sha": SHA,
            "environment": environment,
            "created_at": "2025-03-03T10:00:00Z",
        },
        "deployment_status": {"state": "success", "created_at": "2025-03-03T10:05:00Z"},
    }


def test_keys_are_matched_in_one_canonical_form() -> None:
    assert repository_key("https://GitHub.com/Acme/Checkout.git/") == "github.com/acme/checkout"
    assert environment_key(EU_NAME) == environment_key("PRODUCTION eu")
    assert environment_key(EU_NAME) == "production-eu"


def test_a_mapped_repository_names_the_service_of_its_changes() -> None:
    mapped = map_delivery(Provider.GITHUB, "push", _push("refs/heads/main"), NONE, MAPPING)
    event = mapped.events[0]
    assert isinstance(event, ChangeEvent)
    assert (event.service, mapped.service_from) == ("payments", "mapping")


def test_an_unmapped_repository_keeps_its_own_name() -> None:
    mapped = map_delivery(
        Provider.GITHUB, "push", _push("refs/heads/main", "acme/other"), NONE, MAPPING
    )
    assert (mapped.events[0].service, mapped.service_from) == ("other", "payload")


def test_a_rule_with_the_host_wins_over_one_without() -> None:
    ghes = _push("refs/heads/main", host="ghe.acme.internal")
    mapped = map_delivery(Provider.GITHUB, "push", ghes, NONE, MAPPING)
    assert mapped.events[0].service == "payments-ghes"


def test_the_query_service_wins_over_the_mapping() -> None:
    mapped = map_delivery(
        Provider.GITHUB, "push", _push("refs/heads/main"), Overrides("pinned"), MAPPING
    )
    assert (mapped.events[0].service, mapped.service_from) == ("pinned", "query")


@pytest.mark.parametrize("ref", ["refs/heads/main", "refs/heads/release/2025.03"])
def test_counted_branches_include_patterns(ref: str) -> None:
    mapped = map_delivery(Provider.GITHUB, "push", _push(ref), NONE, MAPPING)
    assert mapped.ignored is None
    assert len(mapped.events) == 1


def test_a_branch_the_mapping_does_not_count_is_ignored_with_the_mapping_named() -> None:
    mapped = map_delivery(Provider.GITHUB, "push", _push("refs/heads/feature"), NONE, MAPPING)
    assert mapped.events == []
    assert mapped.ignored is not None
    assert "version 7" in mapped.ignored
    assert "'release/*'" in mapped.ignored


def test_a_repository_that_counts_no_branch_is_ignored() -> None:
    docs = _push("refs/heads/main", "acme/docs")
    assert map_delivery(Provider.GITHUB, "push", docs, NONE, MAPPING).ignored


def test_a_tag_push_is_ignored_as_no_branch() -> None:
    tag = map_delivery(Provider.GITHUB, "push", _push("refs/tags/v1"), NONE, MAPPING)
    assert tag.ignored is not None
    assert "not a branch" in tag.ignored


def test_without_a_mapping_only_the_default_branch_counts() -> None:
    other = map_delivery(Provider.GITHUB, "push", _push("refs/heads/release/1"), NONE)
    main = map_delivery(Provider.GITHUB, "push", _push("refs/heads/main"), NONE)
    assert other.ignored is not None
    assert "default branch 'main'" in other.ignored
    assert main.ignored is None


@pytest.mark.parametrize("sent", ["prod", EU_NAME, "PRODUCTION EU", "Production"])
def test_environment_aliases_name_the_environment(sent: str) -> None:
    mapped = map_delivery(
        Provider.GITHUB, "deployment_status", _deployment_status(sent), NONE, MAPPING
    )
    event = mapped.events[0]
    assert isinstance(event, DeploymentEvent)
    assert event.environment == "production"


def test_an_alias_is_reported_as_the_mapping_and_the_query_wins() -> None:
    aliased = map_delivery(
        Provider.GITHUB, "deployment_status", _deployment_status("prod"), NONE, MAPPING
    )
    pinned = map_delivery(
        Provider.GITHUB,
        "deployment_status",
        _deployment_status("prod"),
        Overrides(environment="staging"),
        MAPPING,
    )
    assert aliased.environment_from == "mapping"
    assert isinstance(pinned.events[0], DeploymentEvent)
    assert (pinned.events[0].environment, pinned.environment_from) == ("staging", "query")


def test_a_github_deployment_created_is_in_progress_with_its_sha() -> None:
    created = _deployment_status("prod")
    del created["deployment_status"]
    created["action"] = "created"
    mapped = map_delivery(Provider.GITHUB, "deployment", created, NONE, MAPPING)
    event = mapped.events[0]
    assert isinstance(event, DeploymentEvent)
    assert (event.status, event.head_commit, event.environment) == (
        "in_progress",
        SHA,
        "production",
    )
    assert event.finished_at is None


def _gitlab_push(path: str) -> Any:
    return {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "project": {
            "path_with_namespace": path,
            "web_url": f"https://gitlab.com/{path}",
            "default_branch": "main",
        },
        "commits": [{"id": SHA, "timestamp": "2025-03-03T10:00:00+00:00", "author": {}}],
    }


def test_a_gitlab_project_is_mapped_by_its_path_with_namespace() -> None:
    mapped = map_delivery(
        Provider.GITLAB, "Push Hook", _gitlab_push("acme/platform/billing"), NONE, MAPPING
    )
    assert (mapped.events[0].service, mapped.service_from) == ("billing", "mapping")


def _incident(service: dict[str, str]) -> Any:
    return {
        "event": {
            "id": "ev1",
            "event_type": "incident.triggered",
            "occurred_at": "2025-03-03T10:00:00Z",
            "data": {"id": "Q1", "service": service, "urgency": "high"},
        }
    }


def test_a_pagerduty_service_is_mapped_by_its_id_or_its_name() -> None:
    by_id = map_delivery(
        Provider.PAGERDUTY, None, _incident({"id": "PF9KMXH", "summary": "X"}), NONE, MAPPING
    )
    by_name = map_delivery(
        Provider.PAGERDUTY, None, _incident({"id": "P0", "summary": "checkout api"}), NONE, MAPPING
    )
    unmapped = map_delivery(
        Provider.PAGERDUTY, None, _incident({"id": "P0", "summary": "Mail"}), NONE, MAPPING
    )
    assert isinstance(by_name.events[0], IncidentEvent)
    assert by_id.events[0].service == "payments"
    assert (by_name.events[0].service, by_name.events[0].environment) == ("checkout", "staging")
    assert (by_name.service_from, by_name.environment_from) == ("mapping", "mapping")
    assert isinstance(unmapped.events[0], IncidentEvent)
    assert (unmapped.events[0].service, unmapped.events[0].environment) == ("mail", "production")
    assert (unmapped.service_from, unmapped.environment_from) == ("payload", "default")


# --- the document ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"repositories": {"checkout": {}}}, "repositories.checkout (the key)"),
        ({"repositories": {"acme/x": {"service": "a\u0001b"}}}, "repositories.acme/x.service"),
        (
            {"repositories": {"acme/x": {"branches": ["main", ""]}}},
            "repositories.acme/x.branches.1",
        ),
        ({"repositories": {"acme/x": {"team": "a"}}}, "repositories.acme/x.team"),
        ({"environments": {"prod": "!!"}}, "environments.prod"),
        ({"pagerduty_services": {"P1": {}}}, "pagerduty_services.P1.service"),
        ({"colour": "blue"}, "colour"),
        (["not", "an", "object"], "(body)"),
        ({"repositories": {"Acme/X": {}, "acme/x": {}}}, "repositories.acme/x"),
        ({"environments": {"Prod": "production", "PROD": "live"}}, "environments.PROD"),
        ({"environments": {"prod": "production", "production": "live"}}, "environments.prod"),
    ],
)
def test_a_bad_document_names_its_field(document: Any, field: str) -> None:
    with pytest.raises(InvalidMapping) as raised:
        parse_document(document)
    problem = raised.value.problem("/v1/metrics/mappings")
    assert problem["code"] == "invalid_mapping"
    assert problem["field"] == field
    assert field in problem["remediation"]


def test_a_good_document_keeps_its_keys_as_written() -> None:
    document = parse_document(
        {
            "repositories": {"Acme/Checkout": {"service": "Checkout", "branches": ["main"]}},
            "environments": {EU_NAME: "production", "production": "production"},
        }
    )
    assert list(document.repositories) == ["Acme/Checkout"]
    assert document.environments[EU_NAME] == "production"


# --- the cache ------------------------------------------------------------------------------


def test_the_cache_never_puts_back_an_older_version() -> None:
    cache = MappingCache(ttl_s=60)
    cache.put("acme", DeliveryMapping(version=3))
    cache.put("acme", DeliveryMapping(version=2))  # a read that began before the commit
    kept = cache.get("acme")
    assert kept is not None
    assert kept.version == 3


def test_a_full_cache_forgets_one_agency_not_every_one() -> None:
    cache = MappingCache(ttl_s=60, max_agencies=2)
    for agency in ("a", "b", "c"):
        cache.put(agency, DeliveryMapping(version=1))
    assert [cache.get(a) is not None for a in ("a", "b", "c")] == [False, True, True]


def test_a_cache_with_no_ttl_keeps_nothing() -> None:
    cache = MappingCache(ttl_s=0)
    cache.put("acme", DeliveryMapping(version=1))
    assert cache.get("acme") is None
