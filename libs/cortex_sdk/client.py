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
