"""Use cases of the DORA metrics: answer a query from the cache, read and write settings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import cast

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from metrics_collector.commit_hooks import after_commit
from metrics_collector.domain.facts.model import canonical_environment, canonical_service
from metrics_collector.domain.metrics.calculators import (
    DoraInputError,
    TrendBucket,
    Window,
    compute_metrics,
)
from metrics_collector.domain.metrics.commits import SliceKey
from metrics_collector.dora import repository
from metrics_collector.dora.cache import DoraCache
from metrics_collector.dora.errors import InvalidTime, InvalidWindow, UnknownBucket, WindowTooLarge
from metrics_collector.dora.repository import SettingsRow
from metrics_collector.dora.schemas import (
    DoraResponse,
    DoraSettings,
    DoraSettingsIn,
    JsonSchemaDocument,
    LinkingSettings,
)

DEFAULT_DAYS = 30
DEFAULT_ENVIRONMENT = "production"
ALL_ENVIRONMENTS = "*"
# A query over more slices than this is computed off the event loop (it may take a while).
_INLINE_SLICES = 8


@dataclass(frozen=True)
class DoraFeature:
    """What the DORA endpoints share in a process (``CollectorState.dora``)."""

    cache: DoraCache
    max_window_days: int


@dataclass(frozen=True)
class DoraQuery:
    window: Window
    service: str | None
    environment: str | None  # None: every environment
    bucket: TrendBucket | None

    def wants(self, key: SliceKey) -> bool:
        return (self.service is None or key[0] == self.service) and (
            self.environment is None or key[1] == self.environment
        )


def _time(name: str, raw: str) -> datetime:
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidTime(
            f"`{name}` is not a date or a time with a timezone: {raw!r}.",
            remediation=f"Send `{name}` as 2025-03-03 (midnight UTC) or as an RFC 3339 time "
            "with Z or an offset, e.g. 2025-03-03T10:00:00Z.",
        )
    return moment


def _bucket(raw: str | None) -> TrendBucket | None:
    if raw is None or raw == "":
        return None
    try:
        return TrendBucket(raw)
    except ValueError:
        raise UnknownBucket(
            f"Unknown bucket {raw!r}.",
            remediation="Use bucket=day, week or month, or leave it out for no trend.",
        ) from None


def parse_query(
    *,
    service: str | None,
    environment: str | None,
    start: str | None,
    end: str | None,
    bucket: str | None,
    now: datetime,
    max_days: int,
) -> DoraQuery:
    """Validate a query; defaults: the last 30 days, production, no trend buckets."""
    until = _time("to", end) if end else now
    since = _time("from", start) if start else until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise InvalidWindow(
            f"The window is empty: from {since.isoformat()} is not before to {until.isoformat()}.",
            remediation="Send `from` earlier than `to` (the window is [from, to)).",
            extra={"from": since.isoformat(), "to": until.isoformat()},
        )
    if until - since > timedelta(days=max_days):
        raise WindowTooLarge(
            f"The window spans {(until - since) / timedelta(days=1):.1f} days; "
            f"the limit is {max_days}.",
            remediation=f"Ask for at most {max_days} days at a time (several queries for "
            "longer histories).",
            extra={"max_days": max_days},
        )
    env = environment if environment is not None else DEFAULT_ENVIRONMENT
    return DoraQuery(
        Window(since, until),
        canonical_service(service) if service else None,  # one identity (docs/metrics.md)
        None if env == ALL_ENVIRONMENTS else canonical_environment(env),
        _bucket(bucket),
    )


async def dora_report(cache: DoraCache, agency: str, query: DoraQuery) -> DoraResponse:
    entry = await cache.agency(agency, query.wants)
    keys = [k for k in entry.snapshots if query.wants(k)]
    snapshot = entry.snapshot(keys)
    compute = partial(
        compute_metrics,
        snapshot,
        query.window,
        service=query.service,
        environment=query.environment,
        bucket=query.bucket,
    )
    try:
        # Snapshots are immutable: a large query may run in a thread, the loop stays responsive.
        report = compute() if len(keys) <= _INLINE_SLICES else await asyncio.to_thread(compute)
    except DoraInputError as exc:
        raise InvalidWindow(
            str(exc), remediation="Use a shorter window or a coarser bucket."
        ) from exc
    stale = entry.stale(query.wants)
    return cast(DoraResponse, {"agency": agency, "stale_slices": stale, **report})


_REPORT_SCHEMA = JsonSchemaDocument.model_validate(TypeAdapter(DoraResponse).json_schema())


def report_schema() -> JsonSchemaDocument:
    """The JSON Schema of :class:`DoraResponse` (the ``GET /v1/metrics/dora`` answer)."""
    return _REPORT_SCHEMA


def _settings(agency: str, row: SettingsRow | None) -> DoraSettings:
    if row is None:
        return DoraSettings(agency=agency, linking=LinkingSettings(), is_default=True)
    # Validated: the row holds what a validated DoraSettingsIn wrote.
    linking = LinkingSettings.model_validate(
        {
            "strategy": row.strategy,
            "max_age_s": row.max_age_s,
            "window_s": row.window_s,
            "explicit_first": row.explicit_first,
        }
    )
    return DoraSettings(
        agency=agency,
        linking=linking,
        is_default=False,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


async def get_settings(session: AsyncSession, agency: str) -> DoraSettings:
    return _settings(agency, await repository.get_settings(session, agency))


async def put_settings(
    session: AsyncSession, cache: DoraCache, agency: str, body: DoraSettingsIn, by: str | None
) -> DoraSettings:
    """Replace the agency's settings; once committed, this replica's cache reads them at once
    (and the others within a second)."""
    linking = body.linking
    row = await repository.put_settings(
        session,
        agency,
        strategy=linking.strategy,
        max_age_s=linking.max_age_s,
        window_s=linking.window_s,
        explicit_first=linking.explicit_first,
        updated_by=by,
    )
    after_commit(session, lambda: cache.committed([agency]))
    return _settings(agency, row)
