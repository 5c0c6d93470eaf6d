"""A small typed client of the CodeValdCortex REST API (CI pipelines, agent runtimes, the CLI)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(Exception):
    """A problem+json answer (4xx/5xx) with its code and remediation."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))
        self.detail = str(problem.get("detail", problem.get("title", "")))
        self.remediation = str(problem.get("remediation", ""))
        super().__init__(f"{status} {self.code}: {self.detail}")


def discover_key(data_dir: str | os.PathLike[str] | None = None) -> str | None:
    """``CORTEX_API_KEY``, else the admin key ``cortex up`` wrote into its data dir."""
    if key := os.environ.get("CORTEX_API_KEY"):
        return key
    path = Path(data_dir or os.environ.get("CORTEX_DATA_DIR", ".cortex")) / "admin.key"
    if path.is_file():
        return path.read_text().strip() or None
    return None


@dataclass
class CortexClient:
    url: str = DEFAULT_URL
    api_key: str | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_env(cls, url: str | None = None, api_key: str | None = None) -> CortexClient:
        return cls(
            url=url or os.environ.get("CORTEX_URL", DEFAULT_URL),
            api_key=api_key or discover_key(),
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        with httpx.Client(base_url=self.url, timeout=self.timeout_s, headers=headers) as http:
            resp = http.request(method, path, **kwargs)
        if resp.status_code >= 400:
            try:
                problem = resp.json()
            except ValueError:
                problem = {"code": "http_error", "detail": resp.text[:500]}
            raise ApiError(resp.status_code, problem if isinstance(problem, dict) else {})
        return resp.json() if resp.content else None

    def create_key(self, agency: str, role: str, name: str = "") -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "POST", "/v1/keys", json={"agency": agency, "role": role, "name": name}
        )
        return result

    def list_keys(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/v1/keys")["items"])

    def revoke_key(self, key_id: str) -> None:
        self._request("DELETE", f"/v1/keys/{key_id}")

    def send_events(
        self, events: list[dict[str, Any]], agency: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"events": events}
        if agency:
            body["agency"] = agency
        result: dict[str, Any] = self._request("POST", "/v1/events", json=body)
        return result

    def list_events(self, agency: str | None = None, kind: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in {"agency": agency, "kind": kind}.items() if v}
        result: dict[str, Any] = self._request("GET", "/v1/events", params=params)
        return result

    def dora(
        self,
        *,
        agency: str | None = None,
        service: str | None = None,
        environment: str | None = None,
        start: str | None = None,
        end: str | None = None,
        bucket: str | None = None,
    ) -> dict[str, Any]:
        """The DORA report (docs/metrics.md "Output"); ``start``/``end`` are ``from``/``to``:
        a date or an RFC 3339 time (default: the last 30 days); ``environment`` defaults to
        production, ``*`` for all."""
        params = {
            "agency": agency,
            "service": service,
            "environment": environment,
            "from": start,
            "to": end,
            "bucket": bucket,
        }
        result: dict[str, Any] = self._request(
            "GET", "/v1/metrics/dora", params={k: v for k, v in params.items() if v}
        )
        return result

    def dora_mapping(self, agency: str | None = None, version: int | None = None) -> dict[str, Any]:
        """The agency's delivery mapping in force, or an older ``version``
        (docs/metrics.md "Mappings")."""
        params = {k: v for k, v in {"agency": agency, "version": version}.items() if v}
        result: dict[str, Any] = self._request("GET", "/v1/metrics/mappings", params=params)
        return result

    def set_dora_mapping(
        self, document: dict[str, Any], agency: str | None = None
    ) -> dict[str, Any]:
        """Replace the mapping with ``document`` (a new version; admin or policy-admin)."""
        params = {"agency": agency} if agency else {}
        result: dict[str, Any] = self._request(
            "PUT", "/v1/metrics/mappings", params=params, json=document
        )
        return result

    def dora_mapping_versions(self, agency: str | None = None) -> list[dict[str, Any]]:
        """Who set each version of the mapping and when, newest first."""
        params = {"agency": agency} if agency else {}
        return list(self._request("GET", "/v1/metrics/mappings/versions", params=params)["items"])


def _policy_path(agency: str | None) -> str:
    return "/v1/org/policy" if agency is None else f"/v1/agencies/{agency}/policy"


class PolicyClient:
    """Policy operations (``cortex policy …``); ``agency=None`` addresses the org baseline."""

    def __init__(self, client: CortexClient) -> None:
        self.client = client

    def validate(self, text: str, content_type: str = "application/yaml") -> dict[str, Any]:
        result: dict[str, Any] = self.client._request(
            "POST", "/v1/policies/validate", content=text, headers={"Content-Type": content_type}
        )
        return result

    def apply(
        self,
        agency: str | None,
        text: str,
        *,
        team: str | None = None,
        message: str = "",
        content_type: str = "application/yaml",
    ) -> dict[str, Any]:
        params = {k: v for k, v in {"team": team, "message": message}.items() if v}
        result: dict[str, Any] = self.client._request(
            "PUT",
            _policy_path(agency),
            content=text,
            params=params,
            headers={"Content-Type": content_type},
        )
        return result

    def get(
        self, agency: str | None, *, team: str | None = None, version: int | None = None
    ) -> dict[str, Any]:
        params = {k: v for k, v in {"team": team, "version": version}.items() if v}
        result: dict[str, Any] = self.client._request("GET", _policy_path(agency), params=params)
        return result

    def history(self, agency: str | None, *, team: str | None = None) -> list[dict[str, Any]]:
        params = {"team": team} if team else {}
        return list(
            self.client._request("GET", f"{_policy_path(agency)}/versions", params=params)["items"]
        )

    def diff(
        self, agency: str, old: int, new: int | None = None, *, team: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"from": old}
        params |= {k: v for k, v in {"to": new, "team": team}.items() if v}
        result: dict[str, Any] = self.client._request(
            "GET", f"{_policy_path(agency)}/diff", params=params
        )
        return result

    def rollback(
        self, agency: str | None, to_version: int, reason: str, *, team: str | None = None
    ) -> dict[str, Any]:
        params = {"team": team} if team else {}
        result: dict[str, Any] = self.client._request(
            "POST",
            f"{_policy_path(agency)}/rollback",
            params=params,
            json={"to_version": to_version, "reason": reason},
        )
        return result

    def simulate(self, agency: str, text: str, last: int = 100) -> dict[str, Any]:
        result: dict[str, Any] = self.client._request(
            "POST", f"{_policy_path(agency)}/simulate", json={"policy": text, "last": last}
        )
        return result
