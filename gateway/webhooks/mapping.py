"""Webhook payloads → the delivery events of ``POST /v1/events`` (pure; docs/metrics.md
"Webhooks" has the table).

Every mapped event is one of ``gateway.events.schemas``' models, so a webhook and a REST call
describing the same thing produce the same protobuf event, and pass the same validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from gateway.events.schemas import ChangeEvent, DeploymentEvent, IncidentEvent
from gateway.webhooks.signatures import Provider

Event = ChangeEvent | DeploymentEvent | IncidentEvent
Payload = Mapping[str, Any]


class PayloadError(ValueError):
    """A signed payload that does not have the fields its event type should have."""


@dataclass(frozen=True)
class Overrides:
    """Query parameters of the webhook URL: what a payload cannot say about our model."""

    service: str | None = None
    environment: str | None = None
    branch: str | None = None


@dataclass(frozen=True)
class Mapped:
    event_type: str
    events: list[Event] = field(default_factory=list)
    ignored: str | None = None  # why nothing was taken from this delivery
    # What the delivery said that could not be used, each with its effect (the answer lists
    # them): a deployment payload that is no JSON object, commits GitLab did not list, ...
    warnings: list[str] = field(default_factory=list)
    truncated_commits: int = 0  # commits a push counted but did not list (GitLab: over 20)


def _ignore(event_type: str, reason: str) -> Mapped:
    return Mapped(event_type, ignored=reason)


# Runs of what a slug does not keep: anything but letters and digits of any script, ``_``,
# ``.``, ``/`` and ``-`` (combining marks go too: rare in the names tools send).
_NOT_SLUG = re.compile(r"[^\w./-]+")


def slug(text: str) -> str:
    """``"My Mail Service"`` → ``"my-mail-service"``, ``"生产"`` → ``"生产"``,
    ``".github"`` → ``".github"``: lower case, every other run of characters one ``-``."""
    return _NOT_SLUG.sub("-", text.strip().lower()).strip("-/")


def _environment(raw: str) -> str:
    """The environment a delivery names, as a slug; refused when nothing of it is left."""
    name = slug(raw)
    if not any(c.isalnum() for c in name):
        raise PayloadError(
            f"environment: {raw[:100]!r} has no letter or digit to name it by: "
            "add ?environment= to the webhook URL"
        )
    return name


def _gitlab_time(raw: Any) -> datetime:
    """GitLab sends RFC 3339, ``2021-04-28 21:50:00 +0200`` or ``2013-12-03 17:23:34 UTC``."""
    text = str(raw).strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _repo_url(web_url: str) -> str:
    return web_url.split("://", 1)[-1].rstrip("/")


# --- GitHub -------------------------------------------------------------------------------

GITHUB_COM = "github.com"


def github_host(payload: Payload) -> str:
    """``github.com`` or the GitHub Enterprise Server host the delivery comes from (the host
    of its repository's ``html_url``): ids are only unique per host."""
    repo = payload.get("repository") or {}
    url = str(repo.get("html_url") or "") if isinstance(repo, Mapping) else ""
    host = (urlsplit(url).hostname or GITHUB_COM).lower()
    return GITHUB_COM if host == "www.github.com" else host


def _scoped(provider: str, host: str, default_host: str, raw_id: Any) -> str:
    # The default host keeps the unscoped id, so facts stored before hosts were told apart
    # keep their identity.
    return f"{provider}-{raw_id}" if host == default_host else f"{provider}-{host}-{raw_id}"


_GITHUB_STATES = {
    "success": "succeeded",
    "failure": "failed",
    "error": "failed",
    "pending": "in_progress",
    "queued": "in_progress",
    "in_progress": "in_progress",
}
_FINAL = frozenset({"succeeded", "failed", "cancelled"})


def _github_push(payload: Payload, o: Overrides) -> Mapped:
    repo = payload["repository"]
    branch = o.branch or repo.get("default_branch") or repo.get("master_branch") or "main"
    ref = str(payload.get("ref", ""))
    if ref != f"refs/heads/{branch}":
        return _ignore("push", f"push to {ref}, not to {branch}: only the delivery branch counts")
    commits = payload.get("commits") or []
    if payload.get("deleted") or not commits:
        return _ignore("push", "no commits")
    service = o.service or repo["name"]
    url = f"{github_host(payload)}/{repo['full_name']}"
    return Mapped(
        "push",
        [
            ChangeEvent(
                type="change",
                id=c["id"],
                commit_sha=c["id"],
                repo=url,
                service=service,
                committed_at=c["timestamp"],
                author=str((c.get("author") or {}).get("username") or ""),
            )
            for c in commits
        ],
    )


def _github_pull_request(payload: Payload, o: Overrides) -> Mapped:
    pr = payload["pull_request"]
    action = payload.get("action")
    if action != "closed" or not pr.get("merged"):
        return _ignore("pull_request", f"pull request {action}, not merged")
    repo = payload["repository"]
    branch = o.branch or repo.get("default_branch") or "main"
    base = str((pr.get("base") or {}).get("ref") or "")
    if base != branch:
        return _ignore("pull_request", _not_counted("pull request", base, branch))
    sha = pr.get("merge_commit_sha")
    if not sha:
        return _ignore("pull_request", "merged without a merge commit sha")
    # The merge commit under its sha: the push of that commit merges into the same change.
    change = ChangeEvent(
        type="change",
        id=sha,
        commit_sha=sha,
        repo=f"{github_host(payload)}/{repo['full_name']}",
        service=o.service or repo["name"],
        committed_at=pr["merged_at"],
        pr_id=str(pr["number"]),
        pr_opened_at=pr["created_at"],
        pr_merged_at=pr["merged_at"],
        author=str((pr.get("user") or {}).get("login") or ""),
    )
    return Mapped("pull_request", [change])


def _not_counted(what: str, target: str, branch: str) -> str:
    return (
        f"{what} merged into {target!r}, not into {branch!r}: only changes merged into the "
        "delivery branch count (set ?branch= for another one)"
    )


def _payload_object(raw: Any, warnings: list[str]) -> Mapping[str, Any]:
    """A deployment's ``payload``: an object, or a string holding one (GitHub keeps what the
    deployment was created with, and many tools send a JSON string)."""
    if raw is None or raw == "" or raw == {}:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            warnings.append(
                "deployment payload is a string that is not JSON: its labels, fixes_incident, "
                "rollback_of and ships_no_commits were not read"
            )
            return {}
    if not isinstance(raw, Mapping):
        warnings.append(
            f"deployment payload is a JSON {type(raw).__name__}, not an object: its labels, "
            "fixes_incident, rollback_of and ships_no_commits were not read"
        )
        return {}
    return raw


def _deployment_extras(raw: Any, warnings: list[str]) -> dict[str, Any]:
    extra = _payload_object(raw, warnings)
    return {
        "labels": _strings(extra.get("labels")),
        "fixes_incident": str(extra.get("fixes_incident") or ""),
        "rollback_of": str(extra.get("rollback_of") or ""),
        "ships_no_commits": extra.get("ships_no_commits") is True,
    }


def _github_deployment_status(payload: Payload, o: Overrides) -> Mapped:
    status, deployment = payload["deployment_status"], payload["deployment"]
    state = str(status["state"])
    if state not in _GITHUB_STATES:
        return _ignore("deployment_status", f"deployment status {state!r} changes no outcome")
    outcome = _GITHUB_STATES[state]
    warnings: list[str] = []
    event = DeploymentEvent(
        type="deployment",
        id=_scoped("github", github_host(payload), GITHUB_COM, deployment["id"]),
        service=o.service or payload["repository"]["name"],
        environment=_environment(
            o.environment or status.get("environment") or deployment["environment"]
        ),
        status=outcome,
        started_at=deployment["created_at"],
        finished_at=status["created_at"] if outcome in _FINAL else None,
        head_commit=str(deployment.get("sha") or ""),
        **_deployment_extras(deployment.get("payload"), warnings),
    )
    return Mapped("deployment_status", [event], warnings=warnings)


_GITHUB: dict[str, Callable[[Payload, Overrides], Mapped]] = {
    "push": _github_push,
    "pull_request": _github_pull_request,
    "deployment_status": _github_deployment_status,
}


# --- GitLab -------------------------------------------------------------------------------

_GITLAB_STATES = {
    "running": "in_progress",
    "success": "succeeded",
    "failed": "failed",
    "canceled": "cancelled",
}


def _gitlab_service(payload: Payload, o: Overrides) -> str:
    return o.service or str(payload["project"]["path_with_namespace"]).rsplit("/", 1)[-1]


def _gitlab_push(payload: Payload, o: Overrides) -> Mapped:
    project = payload["project"]
    branch = o.branch or project.get("default_branch") or "main"
    ref = str(payload.get("ref", ""))
    if ref != f"refs/heads/{branch}":
        return _ignore("push", f"push to {ref}, not to {branch}: only the delivery branch counts")
    commits = payload.get("commits") or []
    if not commits:
        return _ignore("push", "no commits")
    service, url = _gitlab_service(payload, o), _repo_url(project["web_url"])
    total = payload.get("total_commits_count")
    unlisted = max(0, total - len(commits)) if isinstance(total, int) else 0
    warnings = []
    if unlisted:
        warnings.append(
            f"GitLab listed {len(commits)} of the push's {total} commits: the {unlisted} "
            "unlisted ones are not changes, so the lead time of this push is its listed "
            "commits' (report the others with POST /v1/events)"
        )
    return Mapped(
        "push",
        warnings=warnings,
        truncated_commits=unlisted,
        events=[
            ChangeEvent(
                type="change",
                id=c["id"],
                commit_sha=c["id"],
                repo=url,
                service=service,
                committed_at=_gitlab_time(c["timestamp"]),
                author=str((c.get("author") or {}).get("email") or ""),
            )
            for c in commits
        ],
    )


def _gitlab_merge_request(payload: Payload, o: Overrides) -> Mapped:
    attrs = payload["object_attributes"]
    if attrs.get("action") != "merge":
        return _ignore("merge_request", f"merge request {attrs.get('action')}, not merged")
    branch = o.branch or payload["project"].get("default_branch") or "main"
    target = str(attrs.get("target_branch") or "")
    if target != branch:
        return _ignore("merge_request", _not_counted("merge request", target, branch))
    sha = attrs.get("merge_commit_sha") or (attrs.get("last_commit") or {}).get("id")
    if not sha:
        return _ignore("merge_request", "merged without a commit sha")
    merged = _gitlab_time(attrs.get("merged_at") or attrs["updated_at"])
    change = ChangeEvent(
        type="change",
        id=sha,
        commit_sha=sha,
        repo=_repo_url(payload["project"]["web_url"]),
        service=_gitlab_service(payload, o),
        committed_at=merged,
        pr_id=str(attrs["iid"]),
        pr_opened_at=_gitlab_time(attrs["created_at"]),
        pr_merged_at=merged,
        author=str((payload.get("user") or {}).get("username") or ""),
    )
    return Mapped("merge_request", [change])


def _gitlab_deployment(payload: Payload, o: Overrides) -> Mapped:
    state = str(payload["status"])
    if state not in _GITLAB_STATES:
        return _ignore("deployment", f"deployment status {state!r} changes no outcome")
    outcome = _GITLAB_STATES[state]
    # GitLab sends the time of each status change, not the start: a deployment starts when its
    # status last changed (its duration is unknown; lead time counts to the finish).
    at = _gitlab_time(payload["status_changed_at"])
    event = DeploymentEvent(
        type="deployment",
        id=f"gitlab-{payload['deployment_id']}",
        service=_gitlab_service(payload, o),
        environment=_environment(o.environment or payload["environment"]),
        status=outcome,
        started_at=at,
        finished_at=at if outcome in _FINAL else None,
        head_commit=str(payload.get("sha") or ""),
    )
    return Mapped("deployment", [event])


_GITLAB: dict[str, Callable[[Payload, Overrides], Mapped]] = {
    "push": _gitlab_push,
    "merge_request": _gitlab_merge_request,
    "deployment": _gitlab_deployment,
}
_GITLAB_HEADER = {
    "Push Hook": "push",
    "Merge Request Hook": "merge_request",
    "Deployment Hook": "deployment",
}


# --- PagerDuty ----------------------------------------------------------------------------


_PAGERDUTY_USED = frozenset(
    {"incident.triggered", "incident.resolved", "incident.reopened", "incident.priority_updated"}
)


def _pagerduty(payload: Payload, o: Overrides) -> Mapped:
    event = payload["event"]
    event_type = str(event["event_type"])
    if event_type not in _PAGERDUTY_USED:
        return _ignore(event_type, f"{event_type} changes no incident's times or severity")
    data = event["data"]
    service = o.service or slug(str(data["service"]["summary"]))
    if not any(c.isalnum() for c in service):
        raise PayloadError("the PagerDuty service has no usable name: add ?service= to the URL")
    severity = (data.get("priority") or {}).get("summary") or data.get("urgency") or ""
    incident = IncidentEvent(
        type="incident",
        id=f"pagerduty-{data['id']}",
        service=service,
        environment=_environment(o.environment or "production"),
        opened_at=data.get("created_at") or event["occurred_at"],
        resolved_at=event["occurred_at"] if event_type == "incident.resolved" else None,
        reopened_at=event["occurred_at"] if event_type == "incident.reopened" else None,
        reported_at=event["occurred_at"],
        severity=str(severity).lower(),
    )
    return Mapped(event_type, [incident])


# --- entry point --------------------------------------------------------------------------

DELIVERY_HEADER = {Provider.GITHUB: "X-GitHub-Delivery", Provider.GITLAB: "X-Gitlab-Event-UUID"}


def delivery_id(provider: Provider, headers: Mapping[str, str], payload: Any) -> str | None:
    """The provider's id of this delivery, the same when it is delivered again (GitHub's
    "Redeliver", GitLab's "Resend request", PagerDuty's retries), or None."""
    if provider is Provider.PAGERDUTY:
        event = payload.get("event") if isinstance(payload, Mapping) else None
        found = event.get("id") if isinstance(event, Mapping) else None
    else:
        found = headers.get(DELIVERY_HEADER[provider])
    text = str(found).strip() if found else ""
    return text[:200] or None


def map_delivery(
    provider: Provider, event_header: str | None, payload: Any, overrides: Overrides
) -> Mapped:
    """The delivery events of one webhook delivery (``event_header``: ``X-GitHub-Event`` or
    ``X-Gitlab-Event``); raises :class:`PayloadError` for a payload missing what its type
    needs."""
    if not isinstance(payload, Mapping):
        raise PayloadError("the body is not a JSON object")
    try:
        if provider is Provider.PAGERDUTY:
            return _pagerduty(payload, overrides)
        if provider is Provider.GITHUB:
            kind = event_header or ""
            handler = _GITHUB.get(kind)
        else:
            kind = str(payload.get("object_kind") or _GITLAB_HEADER.get(event_header or "", ""))
            handler = _GITLAB.get(kind)
        if handler is None:
            return _ignore(kind or "unknown", f"{provider.value} event {kind!r} is not used")
        return handler(payload, overrides)
    except PayloadError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PayloadError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"missing or malformed field: {exc}") from exc
