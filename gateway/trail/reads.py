"""The reads the trail makes: each a signed GET to the service that owns the thing, on the
caller's agency, answered as an :class:`Answer` — a service that does not answer is an answer
too (``status`` None, with the reason), never an exception."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from cortex_kit.errors import UpstreamTimeout, UpstreamUnavailable
from gateway.domain.trail import Answer
from gateway.relay import segment
from gateway.upstream import Upstreams

ORCHESTRATOR = "rollout_orchestrator"
WORKFLOW = "approval_workflow"
ENGINE = "policy_engine"
COLLECTOR = "metrics_collector"
INCIDENTS_LOOKED_AT = 1000
"""The latest incidents searched for those that name a deployment (the collector's limit)."""
RUNS_LOOKED_AT = 10
"""Runs created just before a decision or approval id, searched for the one that minted it."""


@dataclass(frozen=True, slots=True)
class Reader:
    upstreams: Upstreams
    agency: str
    principal: str
    request_id: str | None

    async def get(self, service: str, path: str, params: Mapping[str, str] | None = None) -> Answer:
        try:
            resp = await self.upstreams.forward(
                service,
                "GET",
                path,
                agency=self.agency,
                principal=self.principal,
                params=params,
                request_id=self.request_id,
            )
        except (UpstreamUnavailable, UpstreamTimeout) as exc:
            return Answer(None, reason=exc.detail)
        if resp.status_code >= 500:
            return Answer(None, reason=f"the {service} service answered {resp.status_code}")
        try:
            body = json.loads(bytes(resp.body))
        except ValueError:
            return Answer(resp.status_code, reason=f"the {service} service answered no JSON")
        return Answer(resp.status_code, body)

    async def run(self, run_id: str) -> Answer:
        return await self.get(ORCHESTRATOR, f"/v1/deployments/{segment(run_id)}")

    async def runs_before(self, trail_id: str) -> Answer:
        """The agency's runs created just before ``trail_id``: a run's decision and approval
        ids are UUIDv7s minted right after its own id, while creation holds the agency's lock,
        so the run that minted one is among the newest runs with a smaller id."""
        if len(trail_id) > 100:  # the orchestrator's limit of `after`: no run id is longer
            return Answer(200, {"items": []})
        params = {"after": trail_id, "limit": str(RUNS_LOOKED_AT)}
        return await self.get(ORCHESTRATOR, "/v1/deployments", params)

    async def approval(self, approval_id: str) -> Answer:
        return await self.get(WORKFLOW, f"/v1/approvals/{segment(approval_id)}")

    async def approvals_of(self, kind: str, subject_id: str) -> Answer:
        params = {"subject_kind": kind, "subject_id": subject_id, "limit": "1"}
        return await self.get(WORKFLOW, "/v1/approvals", params)

    async def decision(self, decision_id: str) -> Answer:
        return await self.get(ENGINE, f"/v1/decisions/{segment(decision_id)}")

    async def fact(self, kind: str, event_id: str) -> Answer:
        return await self.get(COLLECTOR, f"/v1/events/{kind}/{segment(event_id)}")

    async def incidents(self) -> Answer:
        params = {"kind": "incident", "limit": str(INCIDENTS_LOOKED_AT)}
        return await self.get(COLLECTOR, "/v1/events", params)
