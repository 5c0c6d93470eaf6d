"""Platform rollouts (the rollout orchestrator's deploy.* events) as delivery facts (no I/O).

A finished run is a deployment. Its change is what it rolled out: the commits it names, or,
when it names none, its **revision** (a config, model or prompt revision), a change of its own
created when the run was (``created_at``; of several runs of one revision, the first), so lead
time covers agent changes without commits. Commits win: a run that names commits ships those
and its revision is no change, so nothing is counted twice. A rollback of a run is a
deployment of its own that rolls the run back (``rollback_of``): the run counts as failed,
recovered when the rollback finished (docs/metrics.md "Platform rollouts").
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import (
    ChangeRecorded,
    DeploymentFinished,
    DeploymentRecorded,
    DeploymentSource,
    DeploymentStatus,
    RolledBack,
    RolloutStatus,
)
from metrics_collector.domain.facts.model import REVISION_PREFIX, canonical_service

_ROLLOUT_STATUS = {
    RolloutStatus.ROLLOUT_STATUS_SUCCEEDED: DeploymentStatus.DEPLOYMENT_STATUS_SUCCEEDED,
    RolloutStatus.ROLLOUT_STATUS_FAILED: DeploymentStatus.DEPLOYMENT_STATUS_FAILED,
    RolloutStatus.ROLLOUT_STATUS_ROLLED_BACK: DeploymentStatus.DEPLOYMENT_STATUS_ROLLED_BACK,
    RolloutStatus.ROLLOUT_STATUS_ABORTED: DeploymentStatus.DEPLOYMENT_STATUS_CANCELLED,
}


def revision_sha(revision: str) -> str:
    """The change key of a revision in its service (where a commit has its sha)."""
    return f"{REVISION_PREFIX}{revision}"


def revision_event_id(service: str, revision: str) -> str:
    """The stored id of a revision's change: one per service and revision, whichever run
    reports it (a service name holds no ``@``, so the id is unambiguous)."""
    return f"{REVISION_PREFIX}{canonical_service(service)}@{revision}"


def _ships_revision(payload: DeploymentFinished) -> bool:
    return bool(payload.revision) and not payload.commit_shas


def _set(stamp: Timestamp) -> bool:
    return bool(stamp.seconds or stamp.nanos)


def revision_change(payload: DeploymentFinished) -> ChangeRecorded | None:
    """The change a run without commits rolled out: its revision, created when the run was
    (its start when the producer sent no creation time); None when the run names commits or
    no revision."""
    if not _ships_revision(payload):
        return None
    created = payload.created_at if _set(payload.created_at) else payload.started_at
    return ChangeRecorded(
        event_id=revision_event_id(payload.service, payload.revision),
        commit_sha=revision_sha(payload.revision),
        service=payload.service,
        committed_at=created,
    )


def rollout_deployment(payload: DeploymentFinished | RolledBack) -> DeploymentRecorded:
    """A finished run, or the rollback of one, as a deployment fact."""
    if isinstance(payload, DeploymentFinished):
        shipped = (
            [revision_sha(payload.revision)]
            if _ships_revision(payload)
            else list(payload.commit_shas)
        )
        return DeploymentRecorded(
            deployment_id=payload.deployment_id,
            service=payload.service,
            environment=payload.environment,
            status=_ROLLOUT_STATUS.get(payload.status, DeploymentStatus.DEPLOYMENT_STATUS_FAILED),
            started_at=payload.started_at,
            finished_at=payload.finished_at,
            commit_shas=shipped,
            labels=payload.labels,
            batch_size=payload.batch_size,
            source=DeploymentSource.DEPLOYMENT_SOURCE_ROLLOUT,
        )
    return DeploymentRecorded(
        deployment_id=f"{payload.deployment_id}:rollback",
        service=payload.service,
        environment=payload.environment,
        status=DeploymentStatus.DEPLOYMENT_STATUS_SUCCEEDED,
        # From detection (the failing reading, the violation, the command) to every touched
        # agent reverted: the failed run's recovery time.
        started_at=payload.detected_at if _set(payload.detected_at) else payload.started_at,
        finished_at=payload.finished_at,
        labels=["rollback"],
        rollback_of=payload.deployment_id,
        source=DeploymentSource.DEPLOYMENT_SOURCE_ROLLOUT,
    )
