"""Which requests go on the audit chain: writes by their route template, minus the few that ask
rather than change."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from gateway.audit.trail import audited_action


def scope(method: str, template: str | None) -> dict[str, Any]:
    route = SimpleNamespace(path=template) if template else None
    return {"method": method, "route": route}


@pytest.mark.parametrize(
    ("method", "template", "action"),
    [
        ("POST", "/v1/keys", "POST /v1/keys"),
        ("DELETE", "/v1/keys/{key_id}", "DELETE /v1/keys/{key_id}"),
        ("PUT", "/v1/agencies/{agency}/policy", "PUT /v1/agencies/{agency}/policy"),
        (
            "POST",
            "/v1/deployments/{deployment_id}/rollback",
            "POST /v1/deployments/{deployment_id}/rollback",
        ),
        ("PATCH", "/v1/anything/{id}", "PATCH /v1/anything/{id}"),
        ("GET", "/v1/keys", None),
        ("POST", "/v1/authorize", None),
        ("POST", "/v1/policies/validate", None),
        ("POST", "/v1/preflight", None),
        ("POST", "/v1/agents/{agent_id}/heartbeat", None),
        ("POST", None, None),  # no route matched (404)
    ],
)
def test_writes_are_audited_by_their_route_template(
    method: str, template: str | None, action: str | None
) -> None:
    assert audited_action(scope(method, template)) == action
