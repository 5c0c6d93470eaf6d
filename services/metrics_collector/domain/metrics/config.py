"""Per-agency choices of the DORA calculators (all defaults documented in docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class LinkStrategy(StrEnum):
    """How an incident finds the deployment(s) that caused it."""

    # Only the incident's caused_by_deployment, or the first successful deployment in its
    # service and environment that shipped caused_by_commit.
    EXPLICIT = "explicit"
    # The latest deployment of the same service and environment that reached it before the
    # incident opened, if it is at most ``max_age`` old.
    LATEST_BEFORE = "latest_before"
    # Every deployment of the same service and environment that finished within
    # ``window`` before the incident opened.
    WINDOW = "window"


@dataclass(frozen=True, slots=True)
class LinkingConfig:
    strategy: LinkStrategy = LinkStrategy.LATEST_BEFORE
    max_age: timedelta = timedelta(days=7)
    window: timedelta = timedelta(hours=24)
    # The heuristic strategies still trust a caused_by that names a known deployment/commit.
    explicit_first: bool = True

    def __post_init__(self) -> None:
        if self.max_age < timedelta(0) or self.window < timedelta(0):
            raise ValueError("max_age and window must not be negative")


@dataclass(frozen=True, slots=True)
class DoraConfig:
    linking: LinkingConfig = LinkingConfig()
    # Commit set of a deployment with no earlier successful deployment in its service and
    # environment: the service's changes committed at most this long before it started.
    first_deployment_lookback: timedelta = timedelta(days=30)
    # Labels (compared lower-cased) that make a deployment unplanned (rework).
    unplanned_labels: frozenset[str] = frozenset({"unplanned", "hotfix"})
    # Incident severities (lower-cased) that are not change failures, e.g. {"sev5", "info"}.
    ignored_severities: frozenset[str] = frozenset()
    # Environment of an incident whose source does not say (PagerDuty pages are production).
    default_incident_environment: str = "production"

    def __post_init__(self) -> None:
        if self.first_deployment_lookback < timedelta(0):
            raise ValueError("first_deployment_lookback must not be negative")
        lowered = {
            "unplanned_labels": frozenset(s.lower() for s in self.unplanned_labels),
            "ignored_severities": frozenset(s.lower() for s in self.ignored_severities),
        }
        for name, value in lowered.items():
            object.__setattr__(self, name, value)


DEFAULT_CONFIG = DoraConfig()
