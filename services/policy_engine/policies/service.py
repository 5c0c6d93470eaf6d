"""Use cases of policies: validate, publish versions, history, diff, rollback, effective."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import PolicyLayer, PolicyPublished, pack, subject_for
from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox
from cortex_kit.observability import inject_context
from policy_engine.domain.decisions.compiler import CompiledPolicy, compile_policy
from policy_engine.domain.document.diff import Change, diff_policies
from policy_engine.domain.document.effective import EffectivePolicy
from policy_engine.domain.document.inheritance import Layer, check_overlay, governs, merge
from policy_engine.domain.document.loader import Issue, SourceMap
from policy_engine.domain.document.parse_limits import DEFAULT_LIMITS, ParseLimits
from policy_engine.domain.document.schema import LayerName, PolicyDocument
from policy_engine.errors import (
    PolicyCompileFailed,
    PolicyInvalidError,
    PolicyLoosensParent,
    PolicyNotFound,
)
from policy_engine.policies import repository
from policy_engine.policies.parsing import ContentType as ContentType
from policy_engine.policies.parsing import parse_text
from policy_engine.policies.repository import PolicyVersion, VersionInfo

ORG_AGENCY = "org"
"""Agency token of org-baseline events (reserved: no agency may be called ``org``)."""
SOURCE = "policy-engine"
_LAYER_ENUM = {
    "org": PolicyLayer.POLICY_LAYER_ORG,
    "agency": PolicyLayer.POLICY_LAYER_AGENCY,
    "team": PolicyLayer.POLICY_LAYER_TEAM,
}


@dataclass(frozen=True)
class Target:
    """Where a policy is published: the org baseline, an agency, or a team of an agency."""

    layer: LayerName
    agency: str | None = None
    team: str | None = None

    @property
    def scope(self) -> str:
        if self.layer == "org":
            return "org"
        if self.layer == "agency":
            return f"agency:{self.agency}"
        return f"team:{self.agency}:{self.team}"

    def parents(self) -> list[Target]:
        if self.layer == "org":
            return []
        if self.layer == "agency":
            return [Target("org")]
        return [Target("org"), Target("agency", self.agency)]


def content_hash(document: PolicyDocument) -> str:
    canonical = json.dumps(document.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


async def validate_text(
    text: str, content_type: ContentType, limits: ParseLimits = DEFAULT_LIMITS
) -> tuple[PolicyDocument, SourceMap]:
    """Parse within ``limits`` off the event loop: PolicyInvalidError or a PolicyLimitError."""
    return await parse_text(text, content_type, limits)


def _scope_mismatch(document: PolicyDocument, target: Target) -> list[Issue]:
    meta = document.metadata
    if (meta.layer, meta.agency, meta.team) == (target.layer, target.agency, target.team):
        return []
    return [
        Issue(
            path="metadata",
            line=None,
            column=None,
            code="policy_scope_mismatch",
            message=f"the document is a {meta.layer} policy (agency={meta.agency}, "
            f"team={meta.team}) but is published to {target.scope}",
            remediation="set metadata.layer / agency / team to where you publish it",
        )
    ]


def _layer_of(row: PolicyVersion) -> Layer:
    return Layer(PolicyDocument.model_validate(row.document), row.version, row.layer)


async def layers_of(session: AsyncSession, targets: Sequence[Target]) -> list[Layer]:
    rows = await repository.latest_many(session, [t.scope for t in targets])
    return [_layer_of(rows[t.scope]) for t in targets if t.scope in rows]


async def effective(session: AsyncSession, agency: str, team: str | None) -> EffectivePolicy | None:
    chain = [Target("org"), Target("agency", agency)]
    if team:
        chain.append(Target("team", agency, team))
    layers = await layers_of(session, chain)
    return merge(layers) if layers else None


def version_label(policy: EffectivePolicy) -> str:
    return "+".join(f"{p.layer}:{p.version}" for p in policy.layers)


@dataclass(frozen=True, slots=True)
class EffectiveView:
    """The effective policy of a target, every value with the layer it came from."""

    agency: str
    team: str | None
    version: str
    explained: dict[str, Any]
    """``EffectivePolicy.explain()``."""


async def explain_effective(session: AsyncSession, agency: str, team: str | None) -> EffectiveView:
    """The merged policy (org → agency → team); PolicyNotFound when no layer is published."""
    policy = await effective(session, agency, team)
    if policy is None:
        raise not_found(Target("team", agency, team) if team else Target("agency", agency))
    return EffectiveView(agency, team, version_label(policy), policy.explain())


async def compiled_for(
    session: AsyncSession, agency: str, team: str | None
) -> tuple[CompiledPolicy, str] | None:
    """The compiled policy authorize evaluates for ``(agency, team)``; None when none may
    decide: no layer at all, or only an org baseline that does not admit agencies without a
    policy of their own (fail closed, see ``governs``)."""
    chain = [Target("org"), Target("agency", agency)]
    if team:
        chain.append(Target("team", agency, team))
    layers = await layers_of(session, chain)
    if not governs(layers):
        return None
    policy = merge(layers)
    return compile_policy(policy), version_label(policy)


def _compile_check(layers: list[Layer]) -> None:
    try:
        compile_policy(merge(layers))
    except Exception as exc:  # a policy that does not compile is never published
        raise PolicyCompileFailed(
            f"The effective policy does not compile: {type(exc).__name__}: {exc}",
            remediation="Fix the reported value; nothing was published.",
        ) from exc


async def publish(
    session: AsyncSession,
    outbox: Table,
    target: Target,
    text: str,
    content_type: ContentType,
    *,
    author: str,
    message: str,
    rollback_of: int | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> tuple[PolicyVersion, bool]:
    """Publish a new immutable version; (row, created). Same content as latest → not created."""
    document, source_map = await validate_text(text, content_type, limits)
    if issues := _scope_mismatch(document, target):
        raise PolicyInvalidError(issues)
    await repository.lock_scope(session, target.scope)
    parents = await layers_of(session, target.parents())
    parent = merge(parents) if parents else None
    if issues := check_overlay(parent, document, source=source_map):
        raise PolicyLoosensParent(issues)
    digest = content_hash(document)
    latest = await repository.latest(session, target.scope)
    if latest is not None and latest.content_hash == digest and rollback_of is None:
        return latest, False
    number = await repository.next_version(session, target.scope)
    _compile_check([*parents, Layer(document, number, target.layer)])
    row = await repository.insert_version(
        session,
        scope=target.scope,
        layer=target.layer,
        agency=target.agency,
        team=target.team,
        version=number,
        source=text,
        content_type=content_type,
        document=document.model_dump(mode="json"),
        content_hash=digest,
        author=author,
        message=message,
        rollback_of=rollback_of,
    )
    await _announce(session, outbox, target, row)
    return row, True


async def _announce(
    session: AsyncSession, outbox: Table, target: Target, row: PolicyVersion
) -> None:
    agency = target.agency or ORG_AGENCY
    event = PolicyPublished(
        agency=agency,
        version=row.version,
        content_hash=row.content_hash,
        author=row.author,
        message=row.message,
        layer=_LAYER_ENUM[target.layer],
        team=target.team or "",
    )
    envelope = pack(event, agency=agency, source=SOURCE, trace_context=dict(inject_context({})))
    await add_to_outbox(session, outbox, [PendingEvent(subject_for(event, agency), envelope)])


def not_found(target: Target, version: int | None = None) -> PolicyNotFound:
    what = f"version {version} of " if version else ""
    return PolicyNotFound(
        f"No {what}policy published for {target.scope}.",
        remediation="Publish one with `cortex policy apply -f policy.yaml` (or the wizard); "
        "list versions with `cortex policy history`.",
    )


async def get_version(session: AsyncSession, target: Target, version: int | None) -> PolicyVersion:
    row = (
        await repository.version(session, target.scope, version)
        if version
        else await repository.latest(session, target.scope)
    )
    if row is None:
        raise not_found(target, version)
    return row


async def history(session: AsyncSession, target: Target, limit: int) -> list[VersionInfo]:
    return await repository.history(session, target.scope, limit)


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """What changed from one version of a scope to another, in document order."""

    from_version: int
    to_version: int
    changes: list[Change]


async def diff(session: AsyncSession, target: Target, old: int, new: int | None) -> PolicyDiff:
    before = await get_version(session, target, old)
    after = await get_version(session, target, new)
    changes = diff_policies(
        PolicyDocument.model_validate(before.document),
        PolicyDocument.model_validate(after.document),
    )
    return PolicyDiff(before.version, after.version, changes)


async def rollback(
    session: AsyncSession,
    outbox: Table,
    target: Target,
    to_version: int,
    *,
    author: str,
    reason: str,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> PolicyVersion:
    """Publish an earlier version's content as a new version (history stays immutable)."""
    old = await get_version(session, target, to_version)
    row, _ = await publish(
        session,
        outbox,
        target,
        old.source,
        old.content_type,
        author=author,
        message=f"rollback to v{to_version}: {reason}",
        rollback_of=to_version,
        limits=limits,
    )
    return row
