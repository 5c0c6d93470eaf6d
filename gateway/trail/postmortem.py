"""The postmortem of a trail: refused unless its deployment failed or was rolled back, then
rendered by the pure ``gateway.domain.postmortem``."""

from __future__ import annotations

from gateway.domain.postmortem import PostmortemInput, render_postmortem
from gateway.domain.trail import FAILED_STATUSES, DoraImpact
from gateway.trail.errors import (
    DeploymentNotFailed,
    TrailDeploymentUnavailable,
    TrailWithoutDeployment,
)
from gateway.trail.schemas import ElementOut, TrailOut


def _gaps(found: TrailOut) -> list[str]:
    parts: list[tuple[str, ElementOut]] = [
        ("approval", found.approval),
        ("deployment fact (DORA)", found.dora.deployment),
        ("rollback fact (DORA)", found.dora.rollback),
    ]
    gaps = [f"{name}: {e.reason}" for name, e in parts if e.state in ("unavailable", "missing")]
    if found.dora.incidents_reason:
        gaps.append(f"incidents: {found.dora.incidents_reason}")
    return gaps


def draft(found: TrailOut) -> str:
    run = found.deployment
    if run.state == "none":
        raise TrailWithoutDeployment(
            f"The trail of {found.id!r} has no deployment; a postmortem is written for one.",
            remediation="Ask for the trail (GET /v1/trail/{id}) instead.",
        )
    if run.value is None:
        raise TrailDeploymentUnavailable(
            f"The deployment's record could not be read: {run.reason}.",
            remediation="Retry shortly; check `GET /readyz` of the rollout orchestrator.",
        )
    status = str(run.value.get("status"))
    if status not in FAILED_STATUSES:
        raise DeploymentNotFailed(
            f"Deployment {run.value.get('id')!r} is {status}: it neither failed nor was rolled "
            "back.",
            remediation="A postmortem is written for a failed or rolled-back deployment; "
            "read its trail (GET /v1/trail/{id}) instead.",
            extra={"status": status},
        )
    impact = found.dora.impact
    return render_postmortem(
        PostmortemInput(
            run=run.value,
            approval=found.approval.value,
            incidents=[i.value for i in found.dora.incidents if i.value is not None],
            impact=None
            if impact is None
            else DoraImpact(
                impact.counted_as_failed,
                tuple(impact.failed_because),
                impact.detected_at,
                impact.recovered_at,
                impact.recovery_s,
            ),
            gaps=_gaps(found),
        )
    )
