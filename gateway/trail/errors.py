"""The trail's errors (one class per code)."""

from __future__ import annotations

from cortex_kit.errors import Conflict, CortexError, NotFound, Unavailable


class TrailNotFound(NotFound):
    """No service of the agency knows the id (a foreign agency's id answers the same)."""

    code = "trail_not_found"
    extra_schema = {"unavailable": {"type": "array", "items": {"type": "string"}}}


class TrailUnavailable(Unavailable):
    """None of the services the id could belong to answered."""

    code = "trail_unavailable"
    extra_schema = {"unavailable": {"type": "array", "items": {"type": "string"}}}


class DeploymentNotFailed(Conflict):
    """A postmortem asked for a deployment that neither failed nor was rolled back."""

    code = "deployment_not_failed"
    extra_schema = {"status": {"type": "string"}}


class TrailWithoutDeployment(CortexError):
    """A postmortem asked for a trail that has no deployment (an agent action's decision)."""

    status = 422
    code = "trail_without_deployment"
    title = "No deployment in this trail"


class TrailDeploymentUnavailable(Unavailable):
    """The postmortem needs the deployment's record and the rollout orchestrator did not
    answer."""

    code = "trail_deployment_unavailable"
