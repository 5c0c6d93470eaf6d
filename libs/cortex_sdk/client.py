"""A small typed client of the CodeValdCortex REST API (CI pipelines, agent runtimes, the CLI)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
MAX_WAIT_S = 30.0
"""The longest long-poll the gateway holds (``GET /v1/approvals/{id}?wait=N``)."""
MAX_BULK_DECISIONS = 100
_RETRIED = frozenset({502, 503, 504})


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


class ApprovalOutcome(StrEnum):
    """Where an approval request stands: terminal (granted, rejected, expired, superseded) or
    still pending (when :meth:`CortexClient.wait_for_approval` ran out of time)."""

    GRANTED = "granted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    """What :meth:`CortexClient.wait_for_approval` found: the outcome and the request as last
    read (``approval``: the gateway's answer, with its trail)."""

    approval_id: str
    outcome: ApprovalOutcome
    approval: dict[str, Any]

    @property
    def granted(self) -> bool:
        """Only a grant unblocks; every other outcome keeps the subject blocked."""
        return self.outcome is ApprovalOutcome.GRANTED

    @property
    def timed_out(self) -> bool:
        return self.outcome is ApprovalOutcome.PENDING

    @property
    def superseded_by(self) -> str | None:
        value = self.approval.get("superseded_by")
        return str(value) if value else None


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

    def _send(
        self, method: str, path: str, *, timeout_s: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with httpx.Client(base_url=self.url, timeout=timeout, headers=headers) as http:
            resp = http.request(method, path, **kwargs)
        if resp.status_code >= 400:
            try:
                problem = resp.json()
            except ValueError:
                problem = {"code": "http_error", "detail": resp.text[:500]}
            raise ApiError(resp.status_code, problem if isinstance(problem, dict) else {})
        return resp

    def _request(
        self, method: str, path: str, *, timeout_s: float | None = None, **kwargs: Any
    ) -> Any:
        resp = self._send(method, path, timeout_s=timeout_s, **kwargs)
        return resp.json() if resp.content else None

    def preflight(
        self, text: str, content_type: str = "application/yaml", agency: str | None = None
    ) -> dict[str, Any]:
        """``POST /v1/preflight``: the verdict a deployment plan would meet, with findings."""
        result: dict[str, Any] = self._request(
            "POST",
            "/v1/preflight",
            params={"agency": agency} if agency else None,
            content=text.encode(),
            headers={"Content-Type": content_type},
        )
        return result

    def create_key(
        self,
        agency: str,
        role: str,
        name: str = "",
        *,
        approval_roles: Sequence[str] = (),
        team: str | None = None,
        routes: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"agency": agency, "role": role, "name": name}
        if approval_roles:
            body["approval_roles"] = list(approval_roles)
        if team:
            body["team"] = team
        if routes:
            body["routes"] = list(routes)
        result: dict[str, Any] = self._request("POST", "/v1/keys", json=body)
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

    # Approvals (docs/approvals.md "Through the gateway, the CLI and the SDK").

    def list_approvals(
        self,
        *,
        agency: str | None = None,
        status: str | None = None,
        mine: bool = False,
        subject_kind: str | None = None,
        subject_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page, newest first: ``{items, next_cursor}``; ``mine``: the pending requests this
        key could approve now."""
        params = {
            "agency": agency,
            "status": status,
            "mine": "decidable" if mine else None,
            "subject_kind": subject_kind,
            "subject_id": subject_id,
            "limit": limit,
            "cursor": cursor,
        }
        result: dict[str, Any] = self._request(
            "GET", "/v1/approvals", params={k: v for k, v in params.items() if v}
        )
        return result

    def get_approval(
        self, approval_id: str, *, agency: str | None = None, wait: float = 0
    ) -> dict[str, Any]:
        """The request with its trail; ``wait``: long-poll up to that many seconds (≤ 30)."""
        params: dict[str, Any] = {"agency": agency} if agency else {}
        if wait > 0:
            params["wait"] = f"{min(wait, MAX_WAIT_S):g}"
        result: dict[str, Any] = self._request(
            "GET",
            f"/v1/approvals/{_segment(approval_id)}",
            params=params,
            timeout_s=self.timeout_s + min(wait, MAX_WAIT_S),
        )
        return result

    def trail(self, trail_id: str, *, agency: str | None = None) -> dict[str, Any]:
        """The linked record of a change from any of its ids (deployment, approval, decision,
        incident): ``GET /v1/trail/{id}``."""
        params = {"agency": agency} if agency else {}
        result: dict[str, Any] = self._request(
            "GET", f"/v1/trail/{_segment(trail_id)}", params=params
        )
        return result

    def postmortem(self, trail_id: str, *, agency: str | None = None) -> str:
        """The Markdown postmortem draft of a failed or rolled-back deployment."""
        params = {"agency": agency} if agency else {}
        return self._send("GET", f"/v1/trail/{_segment(trail_id)}/postmortem", params=params).text

    def create_approval(
        self,
        request: dict[str, Any],
        *,
        agency: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Ask for an approval (docs/approvals.md "A request"); the same ``id`` or
        ``idempotency_key`` again answers the request as stored."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: dict[str, Any] = self._request(
            "POST",
            "/v1/approvals",
            json=request,
            params={"agency": agency} if agency else {},
            headers=headers,
        )
        return result

    def decide(
        self, approval_id: str, decision: str, comment: str = "", *, agency: str | None = None
    ) -> dict[str, Any]:
        """``approve`` or ``reject``: ``{approval, decision, repeated}``, or an ApiError with
        the refusal (``self_approval_forbidden``, ``approver_role_missing``, …)."""
        result: dict[str, Any] = self._request(
            "POST",
            f"/v1/approvals/{_segment(approval_id)}/decisions",
            json={"decision": decision, "comment": comment},
            params={"agency": agency} if agency else {},
        )
        return result

    def decide_many(
        self,
        approval_ids: Sequence[str],
        decision: str,
        comment: str = "",
        *,
        agency: str | None = None,
    ) -> list[dict[str, Any]]:
        """The same decision on several requests, each answered on its own:
        ``[{approval_id, status, result | problem}]`` in the order given."""
        answers: list[dict[str, Any]] = []
        for start in range(0, len(approval_ids), MAX_BULK_DECISIONS):
            items = [
                {"approval_id": approval_id, "decision": decision, "comment": comment}
                for approval_id in approval_ids[start : start + MAX_BULK_DECISIONS]
            ]
            answer = self._request(
                "POST",
                "/v1/approvals/decisions",
                json={"items": items},
                params={"agency": agency} if agency else {},
            )
            answers += answer["items"]
        return answers

    def wait_for_approval(
        self, approval_id: str, timeout_s: float = 600.0, *, agency: str | None = None
    ) -> ApprovalResult:
        """Long-poll the request until it is terminal or ``timeout_s`` passed (then the outcome
        is ``pending``). A gateway that is briefly unavailable (502/503/504, no connection) is
        asked again until the time is up; any other error is raised."""
        deadline = time.monotonic() + timeout_s
        while True:
            asked_at = time.monotonic()
            wait = max(0.0, min(deadline - asked_at, MAX_WAIT_S))
            approval = self._poll(approval_id, agency, wait, last_chance=wait == 0)
            answered_at = time.monotonic()
            if approval is not None:
                outcome = ApprovalOutcome(approval["status"])
                if outcome is not ApprovalOutcome.PENDING or answered_at >= deadline:
                    return ApprovalResult(approval_id, outcome, approval)
            if answered_at - asked_at < 1.0:
                # answered at once though pending (a busy service does not hold the call), or
                # not at all: ask again in a second, not in a tight loop
                time.sleep(min(1.0, max(deadline - answered_at, 0.0)))

    def _poll(
        self, approval_id: str, agency: str | None, wait: float, *, last_chance: bool
    ) -> dict[str, Any] | None:
        """One long-poll; None when the gateway was briefly unavailable (unless it was the
        last chance, then that error is raised)."""
        try:
            return self.get_approval(approval_id, agency=agency, wait=wait)
        except ApiError as exc:
            if exc.status not in _RETRIED or last_chance:
                raise
        except httpx.TransportError:
            if last_chance:
                raise
        return None

    # Deployments (docs/rollouts.md; `cortex deploy`, `cortex deployments …`).

    def create_deployment(
        self,
        plan: str | dict[str, Any],
        *,
        content_type: str = "application/yaml",
        idempotency_key: str | None = None,
        agency: str | None = None,
    ) -> dict[str, Any]:
        """Submit a plan (YAML text, or a dict sent as JSON): 202 the run, ``running`` or
        ``pending_approval``. With ``idempotency_key`` a retry answers the same run; a gateway
        briefly unavailable (502/503/504, no connection) is then asked again, up to 3 times."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body: dict[str, Any]
        if isinstance(plan, str):
            body = {"content": plan.encode(), "headers": {**headers, "Content-Type": content_type}}
        else:
            body = {"json": plan, "headers": headers}
        params = {"agency": agency} if agency else {}
        attempts = 3 if idempotency_key else 1
        for attempt in range(attempts):
            try:
                result: dict[str, Any] = self._request(
                    "POST", "/v1/deployments", params=params, **body
                )
                return result
            except ApiError as exc:
                if exc.status not in _RETRIED or attempt == attempts - 1:
                    raise
            except httpx.TransportError:
                if attempt == attempts - 1:
                    raise
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def get_deployment(
        self,
        deployment_id: str,
        *,
        agency: str | None = None,
        wait: float = 0,
        version: int | None = None,
    ) -> dict[str, Any]:
        """The whole record; with ``version`` and ``wait``: as soon as its version differs
        from ``version``, or after ``wait`` seconds (≤ 30)."""
        params: dict[str, Any] = {"agency": agency} if agency else {}
        held = min(max(wait, 0.0), MAX_WAIT_S)
        if version is not None:
            params["version"] = version
        if held > 0:
            params["wait"] = f"{held:g}"
        result: dict[str, Any] = self._request(
            "GET",
            f"/v1/deployments/{_segment(deployment_id)}",
            params=params,
            timeout_s=self.timeout_s + held,
        )
        return result

    def list_deployments(
        self,
        *,
        agency: str | None = None,
        status: str | None = None,
        service: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """One page, newest first: ``{items, next_after}``."""
        params = {
            "agency": agency,
            "status": status,
            "service": service,
            "limit": limit,
            "after": after,
        }
        result: dict[str, Any] = self._request(
            "GET", "/v1/deployments", params={k: v for k, v in params.items() if v}
        )
        return result

    def deployment_command(
        self, deployment_id: str, command: str, reason: str, *, agency: str | None = None
    ) -> dict[str, Any]:
        """``pause``, ``resume``, ``abort`` or ``rollback`` with its reason → the record (the
        same command on a run already in its target state answers the same state)."""
        result: dict[str, Any] = self._request(
            "POST",
            f"/v1/deployments/{_segment(deployment_id)}/{command}",
            json={"reason": reason},
            params={"agency": agency} if agency else {},
        )
        return result

    def wait_for_deployment(
        self,
        deployment_id: str,
        timeout_s: float = 3600.0,
        *,
        agency: str | None = None,
        version: int | None = None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
        until: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Long-poll the record until it is terminal (or ``until(record)``) or ``timeout_s``
        passed; answers the record as last read. ``version``: the one already seen (the
        first poll waits for another). ``on_change`` sees every new version. A gateway briefly
        unavailable is asked again until the time is up."""
        done = until or (lambda record: record["status"] in TERMINAL_DEPLOYMENT)
        deadline = time.monotonic() + timeout_s
        record: dict[str, Any] | None = None
        while True:
            asked_at = time.monotonic()
            wait = max(0.0, min(deadline - asked_at, MAX_WAIT_S))
            read = self._poll_deployment(deployment_id, agency, wait, version, wait == 0)
            changed = read is not None and read["version"] != version
            if read is not None:
                record, version = read, int(read["version"])
                if changed and on_change is not None:
                    on_change(record)
            if record is not None and (done(record) or time.monotonic() >= deadline):
                return record
            if not changed and time.monotonic() - asked_at < 1.0:
                # answered at once though unchanged, or not at all: not in a tight loop
                time.sleep(min(1.0, max(deadline - time.monotonic(), 0.0)))

    def _poll_deployment(
        self,
        deployment_id: str,
        agency: str | None,
        wait: float,
        version: int | None,
        last_chance: bool,
    ) -> dict[str, Any] | None:
        try:
            return self.get_deployment(deployment_id, agency=agency, wait=wait, version=version)
        except ApiError as exc:
            if exc.status not in _RETRIED or last_chance:
                raise
        except httpx.TransportError:
            if last_chance:
                raise
        return None


TERMINAL_DEPLOYMENT = frozenset({"succeeded", "rolled_back", "aborted", "rejected", "failed"})
"""A run in one of these states never changes again."""


def _segment(value: str) -> str:
    return quote(value, safe="")


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
