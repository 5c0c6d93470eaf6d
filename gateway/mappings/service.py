"""Use cases of the delivery mappings: read, set (a new version), list versions, and the
mapping a webhook delivery is mapped with (cached).

The cache holds each agency's mapping in force for ``ttl_s`` seconds (bounded: a ``TTLCache``
of at most ``max_agencies``), so a webhook delivery costs no database round trip for it. The
replica that commits a new version replaces its entry at once; every other replica reads it
when its entry expires: a mapping applies to deliveries mapped at most ``ttl_s`` after the
change (docs/metrics.md "Mappings"). Stored facts are never re-mapped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from cachetools import TTLCache
from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.logs import get_logger
from gateway.domain.mappings import (
    NO_MAPPING,
    DeliveryMapping,
    IncidentServiceRule,
    RepositoryRule,
    environment_key,
    incident_key,
    repository_key,
)
from gateway.mappings import repository
from gateway.mappings.errors import InvalidMapping, MappingVersionNotFound
from gateway.mappings.repository import DocumentJson, MappingRow
from gateway.mappings.schemas import Mapping, MappingDocument, MappingVersion, MappingVersions

log = get_logger("gateway.mappings")
HISTORY_LIMIT = 100
_PATH = "PUT /v1/metrics/mappings"


class MappingCache:
    """Each agency's mapping in force, for ``ttl_s`` seconds (0: no caching)."""

    def __init__(self, ttl_s: float, max_agencies: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._entries: TTLCache[str, DeliveryMapping] = TTLCache(max_agencies, max(ttl_s, 1e-9))
        self.loads = 0  # database reads on a miss (tests and logs)

    def get(self, agency: str) -> DeliveryMapping | None:
        return self._entries.get(agency)

    def put(self, agency: str, mapping: DeliveryMapping) -> None:
        """Keep ``mapping`` unless a newer version is kept already (a read that began before
        a commit must not put the version it replaced back)."""
        if self.ttl_s <= 0:
            return
        kept = self._entries.get(agency)
        if kept is None or kept.version <= mapping.version:
            self._entries[agency] = mapping


def _after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    event.listen(session.sync_session, "after_commit", lambda _s: callback(), once=True)


def _field(loc: tuple[int | str, ...]) -> str:
    # pydantic marks an invalid dict key with a trailing "[key]": say "the key of …".
    parts = [str(p) for p in loc]
    if parts and parts[-1] == "[key]":
        return f"{'.'.join(parts[:-1])} (the key)"
    return ".".join(parts) or "(body)"


def parse_document(raw: object) -> MappingDocument:
    """A validated mapping document; :class:`InvalidMapping` names the first bad field."""
    try:
        document = MappingDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field(tuple(first["loc"]))
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidMapping(
            f"The mapping cannot be used: {field}: {message}.",
            remediation=f"Fix `{field}` and send the whole document again ({_PATH}; "
            "docs/metrics.md 'Mappings' has the shape).",
            extra={"field": field},
        ) from exc
    _check_keys(document)
    return document


def _invalid(field: str, problem: str, fix: str) -> InvalidMapping:
    return InvalidMapping(
        f"The mapping cannot be used: {field}: {problem}.",
        remediation=f"Fix `{field}`: {fix} ({_PATH}).",
        extra={"field": field},
    )


def _check_keys(document: MappingDocument) -> None:
    """Keys distinct once made canonical; an alias names an environment, not another alias."""
    for name, keys, canonical in (
        ("repositories", document.repositories, repository_key),
        ("pagerduty_services", document.pagerduty_services, incident_key),
        ("environments", document.environments, environment_key),
    ):
        seen: dict[str, str] = {}
        for key in keys:
            other = seen.setdefault(canonical(key), key)
            if other != key:
                raise _invalid(
                    f"{name}.{key}",
                    f"{other!r} and {key!r} are one entry (keys match case-insensitively, "
                    "spacing and punctuation aside)",
                    f"Keep one of {other!r} and {key!r}",
                )
    aliases = {environment_key(k): k for k in document.environments}
    for alias, target in document.environments.items():
        chained = aliases.get(environment_key(target))
        # An environment named as an alias of itself (``Production: production``) is no chain.
        if chained is not None and chained != alias and not _identity(chained, document):
            raise _invalid(
                f"environments.{alias}",
                f"it maps to {target!r}, itself an alias of {document.environments[chained]!r}",
                f"Map {alias!r} to the environment it is: aliases are not followed twice",
            )


def _identity(alias: str, document: MappingDocument) -> bool:
    return environment_key(document.environments[alias]) == environment_key(alias)


def to_domain(row: MappingRow) -> DeliveryMapping:
    document = MappingDocument.model_validate(row.document)
    return DeliveryMapping.build(
        row.version,
        repositories={
            key: RepositoryRule(
                rule.service, None if rule.branches is None else tuple(rule.branches)
            )
            for key, rule in document.repositories.items()
        },
        incident_services={
            key: IncidentServiceRule(rule.service, rule.environment)
            for key, rule in document.pagerduty_services.items()
        },
        environments=document.environments,
        updated_by=row.created_by,
        updated_at=row.created_at,
    )


def _answer(agency: str, row: MappingRow | None) -> Mapping:
    if row is None:
        return Mapping(agency=agency, version=0, is_default=True, mapping=MappingDocument())
    return Mapping(
        agency=agency,
        version=row.version,
        is_default=False,
        mapping=MappingDocument.model_validate(row.document),
        updated_by=row.created_by,
        updated_at=row.created_at,
    )


async def get_mapping(session: AsyncSession, agency: str, version: int | None) -> Mapping:
    if version is None:
        return _answer(agency, await repository.current(session, agency))
    row = await repository.version_of(session, agency, version)
    if row is None:
        raise MappingVersionNotFound(
            f"Agency {agency!r} has no mapping version {version}.",
            remediation="List the versions with GET /v1/metrics/mappings/versions.",
        )
    return _answer(agency, row)


async def put_mapping(
    session: AsyncSession,
    cache: MappingCache,
    agency: str,
    document: MappingDocument,
    by: str | None,
) -> Mapping:
    """Store ``document`` as the agency's next version; deliveries this replica maps after
    the commit use it at once (other replicas: within the cache's TTL)."""
    stored = cast(DocumentJson, document.model_dump(mode="json"))
    row = await repository.add_version(session, agency, stored, by)
    mapping = to_domain(row)
    _after_commit(session, lambda: cache.put(agency, mapping))
    log.info("mapping.set", agency=agency, version=row.version, by=by)
    return _answer(agency, row)


async def versions(session: AsyncSession, agency: str) -> MappingVersions:
    rows = await repository.history(session, agency, HISTORY_LIMIT)
    return MappingVersions(
        agency=agency,
        items=[
            MappingVersion(
                version=r.version,
                updated_by=r.created_by,
                updated_at=r.created_at,
                repositories=len(r.document.get("repositories", {})),
                pagerduty_services=len(r.document.get("pagerduty_services", {})),
                environments=len(r.document.get("environments", {})),
            )
            for r in rows
        ],
    )


async def mapping_for_delivery(
    session: AsyncSession, cache: MappingCache, agency: str
) -> DeliveryMapping:
    """The mapping a delivery of ``agency`` is mapped with: from the cache, else one read."""
    cached = cache.get(agency)
    if cached is not None:
        return cached
    row = await repository.current(session, agency)
    cache.loads += 1
    mapping = NO_MAPPING if row is None else to_domain(row)
    cache.put(agency, mapping)
    return mapping
