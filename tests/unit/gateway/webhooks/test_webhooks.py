"""Webhook signatures and the mapping of provider payloads to delivery events (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from cortex_contracts import DeploymentRecorded, DeploymentSource, DeploymentStatus
from gateway.events.schemas import ChangeEvent, DeploymentEvent, IncidentEvent
from gateway.events.service import to_payload
from gateway.webhooks.mapping import Overrides, PayloadError, map_delivery, slug
from gateway.webhooks.signatures import (
    Provider,
    SignatureProblem,
    check_signature,
    github_signature,
    pagerduty_signature,
)

SECRET = "s3cret-s3cret-s3cret"
BODY = b'{"zen": "Design for failure."}'
NONE = Overrides()

# --- signatures ---------------------------------------------------------------------------


def test_github_signature_made_with_the_secret_is_accepted() -> None:
    headers = {"X-Hub-Signature-256": github_signature(SECRET, BODY)}
    assert check_signature(Provider.GITHUB, SECRET, BODY, headers) is None


@pytest.mark.parametrize(
    "header",
    [
        github_signature("another-secret-entirely", BODY),
        github_signature(SECRET, BODY + b" "),
        github_signature(SECRET, BODY).replace("sha256=", "sha1="),
        "sha256=",
        "garbage",
    ],
)
def test_github_signature_of_another_secret_or_body_is_invalid(header: str) -> None:
    headers = {"X-Hub-Signature-256": header}
    assert check_signature(Provider.GITHUB, SECRET, BODY, headers) is SignatureProblem.INVALID


@pytest.mark.parametrize("provider", list(Provider))
def test_a_missing_signature_is_reported_as_missing(provider: Provider) -> None:
    assert check_signature(provider, SECRET, BODY, {}) is SignatureProblem.MISSING


def test_gitlab_token_must_equal_the_secret() -> None:
    assert check_signature(Provider.GITLAB, SECRET, BODY, {"X-Gitlab-Token": SECRET}) is None
    wrong = {"X-Gitlab-Token": SECRET[:-1]}
    assert check_signature(Provider.GITLAB, SECRET, BODY, wrong) is SignatureProblem.INVALID


def test_pagerduty_accepts_any_of_several_signatures_during_a_rotation() -> None:
    old = pagerduty_signature("the-previous-secret-value", BODY)
    headers = {"X-PagerDuty-Signature": f"{old},{pagerduty_signature(SECRET, BODY)}"}
    assert check_signature(Provider.PAGERDUTY, SECRET, BODY, headers) is None
    only_old = {"X-PagerDuty-Signature": old}
    assert check_signature(Provider.PAGERDUTY, SECRET, BODY, only_old) is SignatureProblem.INVALID


# --- GitHub -------------------------------------------------------------------------------

REPO = {"name": "checkout", "full_name": "acme/checkout", "default_branch": "main"}
SHA_A, SHA_B = "a" * 40, "b" * 40


def _push(ref: str = "refs/heads/main") -> dict[str, Any]:
    return {
        "ref": ref,
        "repository": REPO,
        "commits": [
            {
                "id": SHA_A,
                "timestamp": "2025-03-03T09:00:00+01:00",
                "author": {"username": "ana"},
            },
            {"id": SHA_B, "timestamp": "2025-03-03T10:00:00Z", "author": {"email": "b@x"}},
        ],
    }


def test_github_push_to_the_default_branch_gives_one_change_per_commit() -> None:
    mapped = map_delivery(Provider.GITHUB, "push", _push(), NONE)
    assert mapped.ignored is None
    first, second = mapped.events
    assert isinstance(first, ChangeEvent)
    assert (first.id, first.commit_sha, first.service, first.repo, first.author) == (
        SHA_A,
        SHA_A,
        "checkout",
        "github.com/acme/checkout",
        "ana",
    )
    assert first.committed_at == datetime(2025, 3, 3, 8, tzinfo=UTC)
    assert isinstance(second, ChangeEvent)
    assert second.commit_sha == SHA_B


def test_github_push_to_another_branch_is_ignored_unless_that_branch_is_named() -> None:
    assert map_delivery(Provider.GITHUB, "push", _push("refs/heads/feature"), NONE).ignored
    named = map_delivery(
        Provider.GITHUB, "push", _push("refs/heads/release"), Overrides(branch="release")
    )
    assert len(named.events) == 2


def test_the_service_of_a_webhook_can_be_named_in_its_url() -> None:
    mapped = map_delivery(Provider.GITHUB, "push", _push(), Overrides(service="web"))
    assert {e.service for e in mapped.events} == {"web"}


def _pull_request(action: str = "closed", merged: bool = True) -> dict[str, Any]:
    return {
        "action": action,
        "repository": REPO,
        "pull_request": {
            "number": 42,
            "merged": merged,
            "merge_commit_sha": SHA_A,
            "base": {"ref": "main"},
            "created_at": "2025-03-01T08:00:00Z",
            "merged_at": "2025-03-03T12:00:00Z",
            "user": {"login": "ana"},
        },
    }


def test_github_merged_pull_request_gives_the_merge_commit_with_its_pr_times() -> None:
    (change,) = map_delivery(Provider.GITHUB, "pull_request", _pull_request(), NONE).events
    assert isinstance(change, ChangeEvent)
    assert (change.id, change.pr_id) == (SHA_A, "42")  # the push of SHA_A merges with it
    assert change.pr_opened_at == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert change.pr_merged_at == change.committed_at == datetime(2025, 3, 3, 12, tzinfo=UTC)


@pytest.mark.parametrize(("action", "merged"), [("opened", False), ("closed", False)])
def test_github_pull_request_not_merged_is_ignored(action: str, merged: bool) -> None:
    mapped = map_delivery(Provider.GITHUB, "pull_request", _pull_request(action, merged), NONE)
    assert mapped.events == []
    assert mapped.ignored


def _deployment_status(state: str, payload: Any = None) -> dict[str, Any]:
    return {
        "repository": REPO,
        "deployment": {
            "id": 1234,
            "sha": SHA_A,
            "environment": "Production",
            "created_at": "2025-03-03T10:00:00Z",
            "payload": payload or {},
        },
        "deployment_status": {"state": state, "created_at": "2025-03-03T10:20:00Z"},
    }


def test_github_successful_deployment_status_gives_a_finished_deployment() -> None:
    extras = {"labels": ["hotfix"], "fixes_incident": "pagerduty-P1", "rollback_of": "github-7"}
    (event,) = map_delivery(
        Provider.GITHUB, "deployment_status", _deployment_status("success", extras), NONE
    ).events
    assert isinstance(event, DeploymentEvent)
    assert (event.id, event.service, event.environment, event.status) == (
        "github-1234",
        "checkout",
        "production",
        "succeeded",
    )
    assert event.finished_at == datetime(2025, 3, 3, 10, 20, tzinfo=UTC)
    assert (event.labels, event.fixes_incident, event.rollback_of) == (
        ["hotfix"],
        "pagerduty-P1",
        "github-7",
    )
    payload = to_payload(event, deployment_source=DeploymentSource.DEPLOYMENT_SOURCE_WEBHOOK)
    assert isinstance(payload, DeploymentRecorded)
    assert payload.status == DeploymentStatus.DEPLOYMENT_STATUS_SUCCEEDED
    assert payload.source == DeploymentSource.DEPLOYMENT_SOURCE_WEBHOOK


@pytest.mark.parametrize(
    ("state", "status"), [("failure", "failed"), ("error", "failed"), ("pending", "in_progress")]
)
def test_github_deployment_states_map_to_our_statuses(state: str, status: str) -> None:
    (event,) = map_delivery(
        Provider.GITHUB, "deployment_status", _deployment_status(state), NONE
    ).events
    assert isinstance(event, DeploymentEvent)
    assert event.status == status
    assert (event.finished_at is None) == (status == "in_progress")


def test_github_inactive_deployment_and_other_events_are_ignored() -> None:
    inactive = _deployment_status("inactive")
    assert map_delivery(Provider.GITHUB, "deployment_status", inactive, NONE).ignored
    issue = map_delivery(Provider.GITHUB, "issues", {"action": "opened"}, NONE)
    assert (issue.event_type, issue.events) == ("issues", [])
    assert issue.ignored


def test_a_payload_missing_what_its_type_needs_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        map_delivery(Provider.GITHUB, "push", {"ref": "refs/heads/main"}, NONE)
    bad_sha = _push()
    bad_sha["commits"][0]["id"] = "not-a-sha"
    with pytest.raises(PayloadError, match="commit_sha"):
        map_delivery(Provider.GITHUB, "push", bad_sha, NONE)
    with pytest.raises(PayloadError):
        map_delivery(Provider.GITHUB, "push", ["not", "an", "object"], NONE)


# --- GitLab -------------------------------------------------------------------------------

PROJECT = {
    "path_with_namespace": "acme/checkout",
    "web_url": "https://gitlab.com/acme/checkout",
    "default_branch": "main",
}


def test_gitlab_push_gives_changes_and_reads_gitlab_time_formats() -> None:
    payload = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "project": PROJECT,
        "commits": [
            {"id": SHA_A, "timestamp": "2025-03-03T10:00:00+02:00", "author": {"email": "a@x"}},
            {"id": SHA_B, "timestamp": "2025-03-03 09:00:00 UTC", "author": {"email": "b@x"}},
        ],
    }
    first, second = map_delivery(Provider.GITLAB, "Push Hook", payload, NONE).events
    assert isinstance(first, ChangeEvent)
    assert (first.service, first.repo) == ("checkout", "gitlab.com/acme/checkout")
    assert first.committed_at == datetime(2025, 3, 3, 8, tzinfo=UTC)
    assert isinstance(second, ChangeEvent)
    assert second.committed_at == datetime(2025, 3, 3, 9, tzinfo=UTC)


def test_gitlab_merged_merge_request_gives_the_merge_commit() -> None:
    payload = {
        "object_kind": "merge_request",
        "project": PROJECT,
        "user": {"username": "ana"},
        "object_attributes": {
            "action": "merge",
            "iid": 7,
            "merge_commit_sha": SHA_A,
            "target_branch": "main",
            "created_at": "2025-03-01 08:00:00 UTC",
            "updated_at": "2025-03-03 12:00:00 UTC",
        },
    }
    (change,) = map_delivery(Provider.GITLAB, "Merge Request Hook", payload, NONE).events
    assert isinstance(change, ChangeEvent)
    assert (change.commit_sha, change.pr_id) == (SHA_A, "7")
    assert change.pr_merged_at == datetime(2025, 3, 3, 12, tzinfo=UTC)
    opened = {**payload, "object_attributes": {"action": "open"}}
    assert map_delivery(Provider.GITLAB, "Merge Request Hook", opened, NONE).ignored


def test_gitlab_deployment_hook_gives_a_deployment_at_its_status_time() -> None:
    payload = {
        "object_kind": "deployment",
        "status": "success",
        "status_changed_at": "2025-03-03 12:20:00 +0200",
        "deployment_id": 15,
        "environment": "production",
        "project": PROJECT,
    }
    (event,) = map_delivery(Provider.GITLAB, "Deployment Hook", payload, NONE).events
    assert isinstance(event, DeploymentEvent)
    assert (event.id, event.status, event.environment) == ("gitlab-15", "succeeded", "production")
    assert event.started_at == event.finished_at == datetime(2025, 3, 3, 10, 20, tzinfo=UTC)
    created = {**payload, "status": "created"}
    assert map_delivery(Provider.GITLAB, "Deployment Hook", created, NONE).ignored


# --- PagerDuty ----------------------------------------------------------------------------


def _pagerduty(event_type: str) -> dict[str, Any]:
    return {
        "event": {
            "id": "01DEN4HPBQAJ5TLJOWPTWY7CB6",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2025-03-03T17:00:00Z",
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "created_at": "2025-03-03T15:00:00Z",
                "service": {"id": "PF9KMXH", "summary": "Checkout API"},
                "urgency": "high",
                "priority": {"summary": "P1"},
            },
        }
    }


def test_pagerduty_triggered_opens_and_resolved_resolves_one_incident() -> None:
    (opened,) = map_delivery(
        Provider.PAGERDUTY, None, _pagerduty("incident.triggered"), NONE
    ).events
    (resolved,) = map_delivery(
        Provider.PAGERDUTY, None, _pagerduty("incident.resolved"), NONE
    ).events
    assert isinstance(opened, IncidentEvent)
    assert isinstance(resolved, IncidentEvent)
    assert opened.id == resolved.id == "pagerduty-PGR0VU2"
    assert (opened.service, opened.environment, opened.severity) == (
        "checkout-api",
        "production",
        "p1",
    )
    assert opened.opened_at == resolved.opened_at == datetime(2025, 3, 3, 15, tzinfo=UTC)
    assert opened.resolved_at is None
    assert resolved.resolved_at == datetime(2025, 3, 3, 17, tzinfo=timezone(timedelta(0)))


def test_pagerduty_other_incident_events_are_ignored() -> None:
    mapped = map_delivery(Provider.PAGERDUTY, None, _pagerduty("incident.acknowledged"), NONE)
    assert (mapped.event_type, mapped.events) == ("incident.acknowledged", [])
    assert mapped.ignored


def test_service_names_become_slugs() -> None:
    assert slug("  My Mail Service ") == "my-mail-service"
    assert slug("Production") == "production"
    assert slug("payments/eu-west") == "payments/eu-west"
