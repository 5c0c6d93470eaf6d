"""Mapping of payloads shaped as the providers document them (GitHub's webhook reference and
@octokit/webhooks-examples, GitLab's webhook_events.md, PagerDuty's v3 webhook envelope):
what real tools send and the first mapping lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gateway.events.schemas import ChangeEvent, DeploymentEvent, IncidentEvent
from gateway.webhooks.mapping import Overrides, delivery_id, map_delivery
from gateway.webhooks.signatures import Provider

NONE = Overrides()
HEAD = "9049f1265b7d61be4a8904a9a27120d2064dab3b"  # GitHub's docs example sha


def _github_repo(html_url: str = "https://github.com/Codertocat/Hello-World") -> dict[str, Any]:
    return {
        "id": 186853002,
        "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": "Hello-World",
        "full_name": "Codertocat/Hello-World",
        "private": False,
        "owner": {"login": "Codertocat", "id": 21031067, "type": "User"},
        "html_url": html_url,
        "default_branch": "master",
    }


def _github_deployment_status(
    payload: Any = None, html_url: str = "https://github.com/Codertocat/Hello-World"
) -> dict[str, Any]:
    return {
        "deployment_status": {
            "url": "https://api.github.com/repos/Codertocat/Hello-World/deployments/326191728/statuses/344458296",
            "id": 344458296,
            "state": "success",
            "creator": {"login": "Codertocat", "id": 21031067},
            "description": "",
            "environment": "production",
            "target_url": "",
            "created_at": "2019-05-15T15:20:55Z",
            "updated_at": "2019-05-15T15:20:55Z",
        },
        "deployment": {
            "id": 326191728,
            "node_id": "MDEwOkRlcGxveW1lbnQzMjYxOTE3Mjg=",
            "sha": HEAD,
            "ref": "master",
            "task": "deploy",
            "payload": {} if payload is None else payload,
            "original_environment": "production",
            "environment": "production",
            "description": None,
            "created_at": "2019-05-15T15:20:53Z",
            "updated_at": "2019-05-15T15:20:55Z",
        },
        "repository": _github_repo(html_url),
        "sender": {"login": "Codertocat", "id": 21031067},
    }


def _github_pull_request_closed(base: str) -> dict[str, Any]:
    return {
        "action": "closed",
        "number": 2,
        "pull_request": {
            "id": 279147437,
            "number": 2,
            "state": "closed",
            "title": "Update the README with new information.",
            "user": {"login": "Codertocat", "id": 21031067},
            "created_at": "2019-05-15T15:20:33Z",
            "updated_at": "2019-05-15T15:21:03Z",
            "closed_at": "2019-05-15T15:21:03Z",
            "merged_at": "2019-05-15T15:21:03Z",
            "merge_commit_sha": "c4295bd74fb0f4fda03689c3df3f2803b658fd85",
            "head": {"label": "Codertocat:changes", "ref": "changes", "sha": "ec26c3e5"},
            "base": {"label": "Codertocat:" + base, "ref": base, "sha": "f95f852b"},
            "merged": True,
        },
        "repository": _github_repo(),
    }


def test_a_github_deployment_carries_its_sha_as_its_head_commit() -> None:
    (event,) = map_delivery(
        Provider.GITHUB, "deployment_status", _github_deployment_status(), NONE
    ).events
    assert isinstance(event, DeploymentEvent)
    assert event.head_commit == HEAD


def test_a_gitlab_deployment_carries_its_sha_as_its_head_commit() -> None:
    (event,) = map_delivery(Provider.GITLAB, "Deployment Hook", _gitlab_deployment(), NONE).events
    assert isinstance(event, DeploymentEvent)
    assert event.head_commit == "bb6d4b2a4d8bfc72ddbd0e89e19f15a3e2ad6c91"


def test_a_pull_request_merged_into_a_stacked_branch_is_not_a_change() -> None:
    stacked = map_delivery(
        Provider.GITHUB, "pull_request", _github_pull_request_closed("feature-stack"), NONE
    )
    assert stacked.events == []
    assert stacked.ignored is not None
    assert "feature-stack" in stacked.ignored
    (change,) = map_delivery(
        Provider.GITHUB, "pull_request", _github_pull_request_closed("master"), NONE
    ).events
    assert isinstance(change, ChangeEvent)


def test_a_merge_request_merged_into_a_stacked_branch_is_not_a_change() -> None:
    def merged(target: str) -> dict[str, Any]:
        return {
            "object_kind": "merge_request",
            "event_type": "merge_request",
            "user": {"id": 1, "name": "Administrator", "username": "root"},
            "project": _GITLAB_PROJECT,
            "object_attributes": {
                "id": 99,
                "iid": 1,
                "target_branch": target,
                "source_branch": "ms-viewport",
                "created_at": "2013-12-03T17:23:34Z",
                "updated_at": "2013-12-03T17:23:34Z",
                "merge_commit_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
                "state": "merged",
                "action": "merge",
            },
        }

    assert map_delivery(
        Provider.GITLAB, "Merge Request Hook", merged("feature-stack"), NONE
    ).ignored
    assert len(map_delivery(Provider.GITLAB, "Merge Request Hook", merged("master"), NONE).events)


def test_github_enterprise_deployment_ids_are_scoped_by_host() -> None:
    ghes = _github_deployment_status(html_url="https://ghe.acme.example/Codertocat/Hello-World")
    (dotcom,) = map_delivery(
        Provider.GITHUB, "deployment_status", _github_deployment_status(), NONE
    ).events
    (enterprise,) = map_delivery(Provider.GITHUB, "deployment_status", ghes, NONE).events
    assert dotcom.id == "github-326191728"  # unchanged for github.com: stored facts keep theirs
    assert enterprise.id == "github-ghe.acme.example-326191728"


def test_a_deployment_payload_sent_as_a_json_string_is_parsed() -> None:
    text = json.dumps({"labels": ["hotfix"], "rollback_of": "github-7"})
    mapped = map_delivery(
        Provider.GITHUB, "deployment_status", _github_deployment_status(text), NONE
    )
    (event,) = mapped.events
    assert isinstance(event, DeploymentEvent)
    assert (event.labels, event.rollback_of, mapped.warnings) == (["hotfix"], "github-7", [])


def test_an_unparseable_deployment_payload_is_reported_not_dropped_silently() -> None:
    mapped = map_delivery(
        Provider.GITHUB, "deployment_status", _github_deployment_status("labels=hotfix"), NONE
    )
    assert len(mapped.events) == 1
    (warning,) = mapped.warnings
    assert "not JSON" in warning


def test_a_deployment_payload_can_say_it_ships_no_commits() -> None:
    payload = _github_deployment_status({"ships_no_commits": True})
    (event,) = map_delivery(Provider.GITHUB, "deployment_status", payload, NONE).events
    assert isinstance(event, DeploymentEvent)
    assert event.ships_no_commits is True


# --- GitLab (doc/user/project/integrations/webhook_events.md) ----------------------------

_GITLAB_PROJECT = {
    "id": 15,
    "name": "Diaspora",
    "web_url": "http://example.com/mike/diaspora",
    "path_with_namespace": "mike/diaspora",
    "default_branch": "master",
}


def _gitlab_deployment(status: str = "success", at: str = "2021-04-28 21:50:00 +0200") -> Any:
    return {
        "object_kind": "deployment",
        "status": status,
        "status_changed_at": at,
        "deployment_id": 15,
        "deployable_id": 796,
        "deployable_url": "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796",
        "environment": "staging",
        "environment_tier": "staging",
        "project": _GITLAB_PROJECT,
        "short_sha": "bb6d4b2a",
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "commit_url": "http://10.126.0.2:3000/root/test-deployment-webhooks/-/commit/bb6d4b2a",
        "commit_title": "Add new file",
        "ref": "master",
        "sha": "bb6d4b2a4d8bfc72ddbd0e89e19f15a3e2ad6c91",
    }


def test_a_gitlab_push_over_20_commits_reports_the_unlisted_ones() -> None:
    commits = [
        {
            "id": f"{n:040x}",
            "message": f"commit {n}",
            "timestamp": "2011-12-12T14:27:31+02:00",
            "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
        }
        for n in range(1, 21)
    ]
    push = {
        "object_kind": "push",
        "event_name": "push",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "ref": "refs/heads/master",
        "project": _GITLAB_PROJECT,
        "commits": commits,
        "total_commits_count": 27,
    }
    mapped = map_delivery(Provider.GITLAB, "Push Hook", push, NONE)
    assert (len(mapped.events), mapped.truncated_commits) == (20, 7)
    assert "20 of the push's 27" in mapped.warnings[0]


# --- PagerDuty (v3 webhook envelope) -------------------------------------------------------


def _pagerduty(event_type: str, occurred_at: str, priority: str = "P2") -> dict[str, Any]:
    return {
        "event": {
            "id": "01BZMCXM4RA3ZB9H4AWGZBQ1AW",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred_at,
            "agent": {"type": "user_reference", "id": "PLH1HKV"},
            "client": None,
            "data": {
                "id": "Q2PV2QUGNDU2K6",
                "type": "incident",
                "self": "https://api.pagerduty.com/incidents/Q2PV2QUGNDU2K6",
                "html_url": "https://acme.pagerduty.com/incidents/Q2PV2QUGNDU2K6",
                "number": 1234,
                "status": "triggered",
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": "2020-04-09T15:16:27Z",
                "title": "A little bump in the road",
                "service": {
                    "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                    "id": "PF9KMXH",
                    "self": "https://api.pagerduty.com/services/PF9KMXH",
                    "summary": "Hello World",
                    "type": "service_reference",
                },
                "urgency": "high",
                "priority": {"id": "PSO75BM", "summary": priority, "type": "priority_reference"},
            },
        }
    }


def test_pagerduty_reopened_reopens_the_incident() -> None:
    mapped = map_delivery(
        Provider.PAGERDUTY, None, _pagerduty("incident.reopened", "2020-04-09T16:00:00Z"), NONE
    )
    (event,) = mapped.events
    assert isinstance(event, IncidentEvent)
    assert (event.id, event.resolved_at) == ("pagerduty-Q2PV2QUGNDU2K6", None)
    assert event.reopened_at == datetime(2020, 4, 9, 16, tzinfo=UTC)


def test_pagerduty_priority_updated_reports_the_new_severity_at_its_time() -> None:
    payload = _pagerduty("incident.priority_updated", "2020-04-09T15:30:00Z", priority="P1")
    (event,) = map_delivery(Provider.PAGERDUTY, None, payload, NONE).events
    assert isinstance(event, IncidentEvent)
    assert (event.severity, event.reported_at) == ("p1", datetime(2020, 4, 9, 15, 30, tzinfo=UTC))


def test_each_provider_names_its_delivery_id() -> None:
    github = {"X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    gitlab = {"X-Gitlab-Event-UUID": "1de4d2a7-c1b2-4ad4-9b0f-1f6c5b1e2f3d"}
    pagerduty = _pagerduty("incident.triggered", "2020-04-09T15:16:27Z")
    assert delivery_id(Provider.GITHUB, github, {}) == github["X-GitHub-Delivery"]
    assert delivery_id(Provider.GITLAB, gitlab, {}) == gitlab["X-Gitlab-Event-UUID"]
    assert delivery_id(Provider.PAGERDUTY, {}, pagerduty) == "01BZMCXM4RA3ZB9H4AWGZBQ1AW"
    assert delivery_id(Provider.GITHUB, {}, {}) is None
