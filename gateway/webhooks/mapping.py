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
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import ValidationError

from cortex_contracts.names import canonical_name
from gateway.domain.mappings import (
    NO_MAPPING,
    DeliveryMapping,
    IncidentServiceRule,
    RepositoryRule,
)
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


Origin = Literal["query", "mapping", "payload", "default"]
"""Where a delivery's service or environment came from: the webhook URL's ``?service=`` /
``?environment=``, the agency's mapping, the payload itself, or the default (PagerDuty
incidents: production)."""


@dataclass(frozen=True)
class Mapped:
    event_type: str
    events: list[Event] = field(default_factory=list)
    ignored: str | None = None  # why nothing was taken from this delivery
    # What the delivery said that could not be used, each with its effect (the answer lists
    # them): a deployment payload that is no JSON object, commits GitLab did not list, ...
    warnings: list[str] = field(default_factory=list)
    truncated_commits: int = 0  # commits a push counted but did not list (GitLab: over 20)
    service_from: Origin | None = None  # one delivery, one service: where it came from
    environment_from: Origin | None = None


def _ignore(event_type: str, reason: str) -> Mapped:
    return Mapped(event_type, ignored=reason)


@dataclass(frozen=True)
class Rules:
    """What decides a delivery's service, counted branches and environment, first wins: the
    webhook URL's query (``?service=``, ``?branch=``, ``?environment=``), then the agency's
    mapping (docs/metrics.md "Mappings"), then the payload."""

    overrides: Overrides
    mapping: DeliveryMapping

    def service(
        self, rule: RepositoryRule | IncidentServiceRule | None, payload_name: str
    ) -> tuple[str, Origin]:
        if self.overrides.service:
            return self.overrides.service, "query"
        if rule is not None and rule.service:
            return rule.service, "mapping"
        return payload_name, "payload"

    def branch_problem(
        self, rule: RepositoryRule | None, what: str, branch: str, default_branch: str
    ) -> str | None:
        """Why a change ``what`` (``push to refs/heads/x``, ``pull request merged into 'x'``)
        does not count, or None when ``branch`` is a counted branch."""
        if self.overrides.branch:
            if branch == self.overrides.branch:
                return None
            return f"{what}: not the ?branch= of the webhook URL ({self.overrides.branch!r})"
        if rule is not None and rule.branches is not None:
            if rule.counts(branch):
                return None
            counted = ", ".join(repr(b) for b in rule.branches) or "none"
            return (
                f"{what}: not a counted branch of the mapping (version {self.mapping.version}: "
                f"{counted}); add it to the repository's branches to count it"
            )
        if branch == default_branch:
            return None
        return (
            f"{what}: only the default branch {default_branch!r} counts (set the repository's "
            "branches in the mapping, or ?branch=, to count another one)"
        )

    def environment(self, payload_name: str) -> tuple[str, Origin]:
        if self.overrides.environment:
            return _environment(self.overrides.environment), "query"
        alias = self.mapping.environment(payload_name)
        if alias is not None:
            return alias, "mapping"
        return _environment(payload_name), "payload"


# Runs of what a slug does not keep: anything but letters and digits of any script, ``_``,
# ``.``, ``/`` and ``-`` (combining marks go too: rare in the names tools send).
_NOT_SLUG = re.compile(r"[^\w./-]+")


def slug(text: str) -> str:
    """``"My Mail Service"`` → ``"my-mail-service"``, ``"生产"`` → ``"生产"``,
    ``".github"`` → ``".github"``: canonical (``cortex_contracts.names.canonical_name``: case
    folded, NFC), every other run of characters one ``-``."""
    return _NOT_SLUG.sub("-", canonical_name(text)).strip("-/")


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


def _github_repository(payload: Payload, r: Rules) -> tuple[Payload, RepositoryRule | None]:
    repo = payload["repository"]
    return repo, r.mapping.repository(github_host(payload), str(repo["full_name"]))


def _github_push(payload: Payload, r: Rules) -> Mapped:
    repo, rule = _github_repository(payload, r)
    default = repo.get("default_branch") or repo.get("master_branch") or "main"
    ref = str(payload.get("ref", ""))
    if not ref.startswith("refs/heads/"):
        return _ignore("push", f"push to {ref}: not a branch (tags and other refs never count)")
    problem = r.branch_problem(rule, f"push to {ref}", ref.removeprefix("refs/heads/"), default)
    if problem is not None:
        return _ignore("push", problem)
    commits = payload.get("commits") or []
    if payload.get("deleted") or not commits:
        return _ignore("push", "no commits")
    service, origin = r.service(rule, str(repo["name"]))
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
        service_from=origin,
    )


def _github_pull_request(payload: Payload, r: Rules) -> Mapped:
    pr = payload["pull_request"]
    action = payload.get("action")
    if action != "closed" or not pr.get("merged"):
        return _ignore("pull_request", f"pull request {action}, not merged")
    repo, rule = _github_repository(payload, r)
    base = str((pr.get("base") or {}).get("ref") or "")
    default = repo.get("default_branch") or "main"
    problem = r.branch_problem(rule, f"pull request merged into {base!r}", base, default)
    if problem is not None:
        return _ignore("pull_request", problem)
    sha = pr.get("merge_commit_sha")
    if not sha:
        return _ignore("pull_request", "merged without a merge commit sha")
    service, origin = r.service(rule, str(repo["name"]))
    # The merge commit under its sha: the push of that commit merges into the same change.
    change = ChangeEvent(
        type="change",
        id=sha,
        commit_sha=sha,
        repo=f"{github_host(payload)}/{repo['full_name']}",
        service=service,
        committed_at=pr["merged_at"],
        pr_id=str(pr["number"]),
        pr_opened_at=pr["created_at"],
        pr_merged_at=pr["merged_at"],
        author=str((pr.get("user") or {}).get("login") or ""),
    )
    return Mapped("pull_request", [change], service_from=origin)


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


def _github_deployment_event(
    payload: Payload, r: Rules, outcome: str, environment: str, finished_at: Any
) -> Mapped:
    deployment = payload["deployment"]
    repo, rule = _github_repository(payload, r)
    service, service_from = r.service(rule, str(repo["name"]))
    name, environment_from = r.environment(environment)
    warnings: list[str] = []
    event = DeploymentEvent(
        type="deployment",
        id=_scoped("github", github_host(payload), GITHUB_COM, deployment["id"]),
        service=service,
        environment=name,
        status=outcome,
        started_at=deployment["created_at"],
        finished_at=finished_at,
        head_commit=str(deployment.get("sha") or ""),
        **_deployment_extras(deployment.get("payload"), warnings),
    )
    kind = "deployment_status" if "deployment_status" in payload else "deployment"
    return Mapped(
        kind,
        [event],
        warnings=warnings,
        service_from=service_from,
        environment_from=environment_from,
    )


def _github_deployment(payload: Payload, r: Rules) -> Mapped:
    """A deployment created: in progress from its creation (its statuses finish it)."""
    deployment = payload["deployment"]
    if payload.get("action", "created") != "created":
        return _ignore("deployment", f"deployment {payload.get('action')}: no start to record")
    return _github_deployment_event(payload, r, "in_progress", str(deployment["environment"]), None)


def _github_deployment_status(payload: Payload, r: Rules) -> Mapped:
    status, deployment = payload["deployment_status"], payload["deployment"]
    state = str(status["state"])
    if state not in _GITHUB_STATES:
        return _ignore("deployment_status", f"deployment status {state!r} changes no outcome")
    outcome = _GITHUB_STATES[state]
    environment = str(status.get("environment") or deployment["environment"])
    finished = status["created_at"] if outcome in _FINAL else None
    return _github_deployment_event(payload, r, outcome, environment, finished)


_GITHUB: dict[str, Callable[[Payload, Rules], Mapped]] = {
    "push": _github_push,
    "pull_request": _github_pull_request,
    "deployment": _github_deployment,
    "deployment_status": _github_deployment_status,
}


# --- GitLab -------------------------------------------------------------------------------

_GITLAB_STATES = {
    "running": "in_progress",
    "success": "succeeded",
    "failed": "failed",
    "canceled": "cancelled",
}


def _gitlab_project(payload: Payload, r: Rules) -> tuple[Payload, RepositoryRule | None]:
    project = payload["project"]
    host = urlsplit(str(project.get("web_url") or "")).hostname or ""
    return project, r.mapping.repository(host, str(project["path_with_namespace"]))


def _gitlab_service(project: Payload, rule: RepositoryRule | None, r: Rules) -> tuple[str, Origin]:
    return r.service(rule, str(project["path_with_namespace"]).rsplit("/", 1)[-1])


def _gitlab_push(payload: Payload, r: Rules) -> Mapped:
    project, rule = _gitlab_project(payload, r)
    ref = str(payload.get("ref", ""))
    if not ref.startswith("refs/heads/"):
        return _ignore("push", f"push to {ref}: not a branch (tags and other refs never count)")
    default = project.get("default_branch") or "main"
    problem = r.branch_problem(rule, f"push to {ref}", ref.removeprefix("refs/heads/"), default)
    if problem is not None:
        return _ignore("push", problem)
    commits = payload.get("commits") or []
    if not commits:
        return _ignore("push", "no commits")
    (service, origin), url = _gitlab_service(project, rule, r), _repo_url(project["web_url"])
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
        service_from=origin,
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


def _gitlab_merge_request(payload: Payload, r: Rules) -> Mapped:
    attrs = payload["object_attributes"]
    if attrs.get("action") != "merge":
        return _ignore("merge_request", f"merge request {attrs.get('action')}, not merged")
    project, rule = _gitlab_project(payload, r)
    target = str(attrs.get("target_branch") or "")
    default = project.get("default_branch") or "main"
    problem = r.branch_problem(rule, f"merge request merged into {target!r}", target, default)
    if problem is not None:
        return _ignore("merge_request", problem)
    sha = attrs.get("merge_commit_sha") or (attrs.get("last_commit") or {}).get("id")
    if not sha:
        return _ignore("merge_request", "merged without a commit sha")
    merged = _gitlab_time(attrs.get("merged_at") or attrs["updated_at"])
    service, origin = _gitlab_service(project, rule, r)
    change = ChangeEvent(
        type="change",
        id=sha,
        commit_sha=sha,
        repo=_repo_url(project["web_url"]),
        service=service,
        committed_at=merged,
        pr_id=str(attrs["iid"]),
        pr_opened_at=_gitlab_time(attrs["created_at"]),
        pr_merged_at=merged,
        author=str((payload.get("user") or {}).get("username") or ""),
    )
    return Mapped("merge_request", [change], service_from=origin)


def _gitlab_deployment(payload: Payload, r: Rules) -> Mapped:
    state = str(payload["status"])
    if state not in _GITLAB_STATES:
        return _ignore("deployment", f"deployment status {state!r} changes no outcome")
    outcome = _GITLAB_STATES[state]
    # GitLab sends the time of each status change, not the start: a deployment starts when its
    # status last changed (its duration is unknown; lead time counts to the finish).
    at = _gitlab_time(payload["status_changed_at"])
    project, rule = _gitlab_project(payload, r)
    service, service_from = _gitlab_service(project, rule, r)
    environment, environment_from = r.environment(str(payload["environment"]))
    event = DeploymentEvent(
        type="deployment",
        id=f"gitlab-{payload['deployment_id']}",
        service=service,
        environment=environment,
        status=outcome,
        started_at=at,
        finished_at=at if outcome in _FINAL else None,
        head_commit=str(payload.get("sha") or ""),
    )
    return Mapped(
        "deployment", [event], service_from=service_from, environment_from=environment_from
    )


_GITLAB: dict[str, Callable[[Payload, Rules], Mapped]] = {
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


def _pagerduty_environment(rule: IncidentServiceRule | None, r: Rules) -> tuple[str, Origin]:
    if r.overrides.environment:
        return _environment(r.overrides.environment), "query"
    if rule is not None and rule.environment:
        return _environment(rule.environment), "mapping"
    return "production", "default"


def _pagerduty(payload: Payload, r: Rules) -> Mapped:
    event = payload["event"]
    event_type = str(event["event_type"])
    if event_type not in _PAGERDUTY_USED:
        return _ignore(event_type, f"{event_type} changes no incident's times or severity")
    data = event["data"]
    pd_service = data["service"]
    names = [str(pd_service.get(k) or "") for k in ("id", "summary")]
    rule = r.mapping.incident_service(n for n in names if n)
    service, service_from = r.service(rule, slug(str(pd_service["summary"])))
    if not any(c.isalnum() for c in service):
        raise PayloadError(
            "the PagerDuty service has no usable name: map it in the agency's mapping "
            "(pagerduty_services) or add ?service= to the URL"
        )
    environment, environment_from = _pagerduty_environment(rule, r)
    severity = (data.get("priority") or {}).get("summary") or data.get("urgency") or ""
    incident = IncidentEvent(
        type="incident",
        id=f"pagerduty-{data['id']}",
        service=service,
        environment=environment,
        opened_at=data.get("created_at") or event["occurred_at"],
        resolved_at=event["occurred_at"] if event_type == "incident.resolved" else None,
        reopened_at=event["occurred_at"] if event_type == "incident.reopened" else None,
        reported_at=event["occurred_at"],
        severity=str(severity).lower(),
    )
    return Mapped(
        event_type, [incident], service_from=service_from, environment_from=environment_from
    )


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
    provider: Provider,
    event_header: str | None,
    payload: Any,
    overrides: Overrides,
    mapping: DeliveryMapping = NO_MAPPING,
) -> Mapped:
    """The delivery events of one webhook delivery (``event_header``: ``X-GitHub-Event`` or
    ``X-Gitlab-Event``), mapped by the URL's ``overrides`` first, then the agency's
    ``mapping``; raises :class:`PayloadError` for a payload missing what its type needs."""
    if not isinstance(payload, Mapping):
        raise PayloadError("the body is not a JSON object")
    rules = Rules(overrides, mapping)
    try:
        if provider is Provider.PAGERDUTY:
            return _pagerduty(payload, rules)
        if provider is Provider.GITHUB:
            kind = event_header or ""
            handler = _GITHUB.get(kind)
        else:
            kind = str(payload.get("object_kind") or _GITLAB_HEADER.get(event_header or "", ""))
            handler = _GITLAB.get(kind)
        if handler is None:
            return _ignore(kind or "unknown", f"{provider.value} event {kind!r} is not used")
        return handler(payload, rules)
    except PayloadError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PayloadError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"missing or malformed field: {exc}") from exc
