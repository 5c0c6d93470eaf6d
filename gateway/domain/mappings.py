"""An agency's delivery mapping (docs/metrics.md "Mappings"): which service a repository or a
PagerDuty service is, which branches of a repository count, which environment names are
aliases of another. Pure: the webhooks look deliveries up in it, no I/O here.

Every key is matched in its canonical form (:func:`repository_key`, :func:`incident_key`,
:func:`environment_key`), so ``Acme/Checkout`` and ``acme/checkout`` are one repository and
``Production, EU`` and ``production-eu`` one environment name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TypeVar

from cortex_contracts.names import canonical_name

# What an environment key does not keep: anything but letters and digits of any script, ``_``,
# ``.`` and ``/`` (the slug rule of the webhooks), so punctuation and spacing never matter.
_NOT_KEPT = re.compile(r"[^\w./]+")


def repository_key(name: str) -> str:
    """``https://GitHub.com/Acme/Checkout.git/`` → ``github.com/acme/checkout``; a key without
    a host (``acme/checkout``) matches that path on every host."""
    text = name.strip().lower()
    for scheme in ("https://", "http://"):
        text = text.removeprefix(scheme)
    text = text.strip("/").removesuffix(".git")
    return text.removeprefix("www.github.com/")


def incident_key(name: str) -> str:
    """A PagerDuty service id (``PF9KMXH``) or name (``Checkout API``), case-folded."""
    return canonical_name(name)


def environment_key(name: str) -> str:
    """``Production, EU``, ``production-eu`` and ``PRODUCTION EU`` → ``production-eu``."""
    return _NOT_KEPT.sub("-", canonical_name(name)).strip("-/")


@dataclass(frozen=True, slots=True)
class RepositoryRule:
    service: str | None = None  # None: the repository's name
    branches: tuple[str, ...] | None = None  # None: the repository's default branch

    def counts(self, branch: str) -> bool:
        """Whether a change merged into ``branch`` counts (``*`` matches any characters)."""
        return any(fnmatchcase(branch, pattern) for pattern in self.branches or ())


V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class IncidentServiceRule:
    service: str
    environment: str | None = None  # None: production


def _frozen(items: Mapping[str, V]) -> Mapping[str, V]:
    return MappingProxyType(dict(items))


@dataclass(frozen=True, slots=True)
class DeliveryMapping:
    """One version of an agency's mapping; version 0 is "none set" (every default applies)."""

    version: int = 0
    repositories: Mapping[str, RepositoryRule] = field(default_factory=dict)
    incident_services: Mapping[str, IncidentServiceRule] = field(default_factory=dict)
    environments: Mapping[str, str] = field(default_factory=dict)
    updated_by: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def build(
        cls,
        version: int,
        *,
        repositories: Mapping[str, RepositoryRule],
        incident_services: Mapping[str, IncidentServiceRule],
        environments: Mapping[str, str],
        updated_by: str | None = None,
        updated_at: datetime | None = None,
    ) -> DeliveryMapping:
        """Keys made canonical; the maps are read-only (a mapping is shared by requests)."""
        return cls(
            version,
            _frozen({repository_key(k): v for k, v in repositories.items()}),
            _frozen({incident_key(k): v for k, v in incident_services.items()}),
            _frozen({environment_key(k): canonical_name(v) for k, v in environments.items()}),
            updated_by,
            updated_at,
        )

    def repository(self, host: str, path: str) -> RepositoryRule | None:
        """The rule of ``host/path`` (GitHub ``full_name``, GitLab ``path_with_namespace``):
        a key with the host first, then one without."""
        key = repository_key(path)
        return self.repositories.get(f"{host.lower()}/{key}") or self.repositories.get(key)

    def incident_service(self, names: Iterable[str]) -> IncidentServiceRule | None:
        """The rule of the first of ``names`` (the PagerDuty service id, then its name)."""
        for name in names:
            found = self.incident_services.get(incident_key(name))
            if found is not None:
                return found
        return None

    def environment(self, name: str) -> str | None:
        """The environment ``name`` is an alias of, or None."""
        return self.environments.get(environment_key(name))


NO_MAPPING = DeliveryMapping()
