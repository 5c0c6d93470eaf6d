"""Preflight's calls, in parallel under one deadline: the orchestrator's preview (batches,
busy targets, and the policy engine's evaluation creation would use), the approvals of the
agency's deployments, the service's DORA metrics. A call that fails or outlives the deadline
is a ``Reply`` saying so, never an exception."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from fastapi import Response

from cortex_kit.errors import UpstreamTimeout, UpstreamUnavailable
from gateway.domain.keys import Principal
from gateway.preflight.findings import Reply
from gateway.upstream import Upstreams

PREVIEW = "/v1/deployments/preview"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


@dataclass(frozen=True, slots=True)
class Submitted:
    """The plan as the caller sent it (relayed byte for byte) and what the gateway reads of it
    to ask the metrics collector at the same time: its service and environment."""

    content: bytes
    content_type: str
    service: str | None
    environment: str | None


def submitted(content: bytes, content_type: str) -> Submitted:
    """The plan's service and environment, if the body is a readable plan (the orchestrator
    judges it either way: a body that is none is its ``invalid_plan``)."""
    media = content_type.split(";")[0].strip().lower()
    try:
        document = yaml.safe_load(content) if media in YAML_TYPES else json.loads(content)
    except (ValueError, RecursionError, yaml.YAMLError):
        document = None
    found = document if isinstance(document, dict) else {}
    service, environment = found.get("service"), found.get("environment")
    return Submitted(
        content,
        content_type,
        service if isinstance(service, str) else None,
        environment if isinstance(environment, str) else None,
    )


async def _timed(call: Awaitable[Response], deadline_s: float) -> Reply:
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    try:
        response = await asyncio.wait_for(call, deadline_s)
    except (TimeoutError, UpstreamTimeout):
        return Reply("unavailable", elapsed(), why=f"no answer within {deadline_s:g} s")
    except UpstreamUnavailable as exc:
        return Reply("unavailable", elapsed(), why=exc.detail)
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return Reply("unavailable", elapsed(), response.status_code, why="not JSON")
    if response.status_code >= 500:
        return Reply(
            "unavailable", elapsed(), response.status_code, body, f"HTTP {response.status_code}"
        )
    return Reply("ok", elapsed(), response.status_code, body)


async def _skipped() -> Reply:
    return Reply("skipped")


@dataclass(frozen=True, slots=True)
class Fanout:
    upstreams: Upstreams
    deadline_s: float

    def _call(
        self,
        service: str,
        method: str,
        path: str,
        caller: Principal,
        agency: str,
        request_id: str | None,
        **kwargs: Any,
    ) -> Awaitable[Reply]:
        call = self.upstreams.forward(
            service,
            method,
            path,
            agency=agency,
            principal=caller.key_id,
            request_id=request_id,
            timeout_s=self.deadline_s,
            **kwargs,
        )
        return _timed(call, self.deadline_s)

    async def ask(
        self, plan: Submitted, caller: Principal, agency: str, request_id: str | None
    ) -> tuple[Reply, Reply, Reply]:
        """(preview, approvals, metrics), each answered or not within the deadline."""
        preview = self._call(
            "rollout_orchestrator",
            "POST",
            PREVIEW,
            caller,
            agency,
            request_id,
            content=plan.content,
            content_type=plan.content_type or "application/json",
        )
        approvals = self._call(
            "approval_workflow",
            "GET",
            "/v1/approvals",
            caller,
            agency,
            request_id,
            params={"subject_kind": "deployment", "limit": "200"},
            roles=caller.approver_roles,
            team=caller.team,
        )
        metrics = (
            self._call(
                "metrics_collector",
                "GET",
                "/v1/metrics/dora",
                caller,
                agency,
                request_id,
                params=_dora_query(plan),
            )
            if plan.service
            else _skipped()
        )
        replies = await asyncio.gather(preview, approvals, metrics)
        return replies[0], replies[1], replies[2]


def _dora_query(plan: Submitted) -> Mapping[str, str]:
    query = {"service": plan.service or ""}
    if plan.environment:
        query["environment"] = plan.environment
    return query
