"""Every code a component can answer with, with what it means and how to fix it.

Three kinds of codes reach a caller:

- ``error``: the ``code`` of a problem+json answer (one ``CortexError`` class per code, in the
  kit, a service or the gateway); its ``type`` is ``docs_url(code)``;
- ``reason``: the ``code`` of a reason (or finding) in a decision of the policy engine —
  authorize and deployment-plan evaluation; its ``docs_url`` is ``docs_url(code)``;
- ``issue``: the ``code`` of one problem listed in a ``policy_invalid`` answer that is not a
  field-validation code (those are in docs/policies.md#validation).

A code may be of two kinds (``payload_too_large`` is a 413 answer and a reason of a decision):
it has one entry, one meaning per kind, and one section. ``docs/errors.md`` is rendered from
``REGISTRY`` (``python -m cortex_contracts.codes --write``); the test
``tests/unit/contracts/test_codes.py`` scans the source, so a code without an entry, or an
entry without its section, fails.

**Adding a code**: one ``Code(...)`` entry below (kept in alphabetical order), then
``python -m cortex_contracts.codes --write``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NamedTuple

__all__ = ["DOCS_BASE", "DOCS_FILE", "REGISTRY", "Code", "docs_url", "render_markdown"]

#: Where ``docs/errors.md`` is published; every problem ``type`` and reason ``docs_url`` is
#: ``DOCS_BASE#<code>``. ``cortex_kit.errors.DOCS_BASE`` (the kit knows no contracts) is the
#: same string; a test keeps them equal.
DOCS_BASE = "https://codevald.io/cortex/docs/errors"
DOCS_FILE = "docs/errors.md"

Kind = Literal["error", "reason", "issue"]

# Components, as their docs and logs name them.
KIT = "every service (cortex_kit)"
GATEWAY = "gateway"
POLICY = "policy-engine"
APPROVALS = "approval-workflow"
METRICS = "metrics-collector"
ROLLOUTS = "rollout-orchestrator"


def docs_url(code: str) -> str:
    """The documentation of ``code``: its section of docs/errors.md."""
    return f"{DOCS_BASE}#{code}"


class Code(NamedTuple):
    code: str
    kinds: tuple[Kind, ...]
    emitted_by: tuple[str, ...]
    """Components that answer with it (``KIT``: any service, through the gateway too)."""
    message: str
    """What it means."""
    remediation: str
    """How to fix it (the answer's own ``remediation`` is often more precise)."""

    @property
    def docs_url(self) -> str:
        return docs_url(self.code)


E: tuple[Kind, ...] = ("error",)
R: tuple[Kind, ...] = ("reason",)
ER: tuple[Kind, ...] = ("error", "reason")
ISSUE: tuple[Kind, ...] = ("issue",)

_CODES: tuple[Code, ...] = (
    Code("actor_required", E, (ROLLOUTS,),
         "A call to the rollout orchestrator without `X-Cortex-Principal`: it records an actor on "
         "every transition.",
         "Call the service through the gateway, which sets the caller."),
    Code("agency_conflict", E, (GATEWAY,),
         "The request names different agencies in different places (path, body, query).",
         "Name one agency, once: in the path, the body or `?agency=`."),
    Code("agency_forbidden", E, (KIT, GATEWAY),
         "The call names an agency its caller (API key or signed principal) may not act for.",
         "Use a key of that agency, or omit `agency` to act on your own."),
    Code("agency_required", E, (KIT, GATEWAY),
         "The call does not say which agency it acts for.",
         "Add `agency=<slug>` (query parameter or body field), or use a key scoped to one "
         "agency."),
    Code("agent_not_found", E, (ROLLOUTS,),
         "No agent with this id is registered in the agency.",
         "Register the agent first (`POST /v1/agents`), in the agency it belongs to, or "
         "check the id."),
    Code("already_decided", E, (APPROVALS,),
         "This approver decided otherwise on this approval before; that decision stands.",
         "Nothing to do: a decision cannot be changed. Ask another approver if more are "
         "needed."),
    Code("approval_agent_mismatch", ER, (APPROVALS, POLICY),
         "The approval was asked for by another agent than the one using it.",
         "Each agent needs its own approval; as a reason, a new approval was requested for "
         "this agent."),
    Code("approval_closed", E, (APPROVALS,),
         "The approval was granted or rejected before this decision arrived.",
         "Nothing to decide any more; read the approval's status."),
    Code("approval_expired", ER, (APPROVALS, POLICY),
         "The approval expired (before or after its grant).",
         "Ask for a new approval; as a reason, the policy engine already requested one."),
    Code("approval_granted_for_plan", R, (GATEWAY,),
         "A preflight finding (info): an approval was already granted for a deployment of this "
         "same plan (same plan hash); a new deployment asks for its own.",
         "Follow that deployment (`GET /v1/deployments/{id}`) rather than deploying the same plan "
         "twice."),
    Code("approval_id_taken", E, (APPROVALS,),
         "The approval id (or `Idempotency-Key`) was already used for another request.",
         "Use a new id, or send exactly the same request again to get the same answer."),
    Code("approval_input_mismatch", ER, (APPROVALS, POLICY),
         "The approval covers another exact input (payload, resource, context differ).",
         "Use the approval for the input it was granted for; as a reason, a new approval was "
         "requested for this input."),
    Code("approval_not_found", ER, (APPROVALS, POLICY),
         "No approval with this id in the agency.",
         "Check the id (`GET /v1/approvals`); as a reason, a new approval was requested."),
    Code("approval_not_granted", ER, (APPROVALS, POLICY),
         "The approval is still pending, or was rejected.",
         "Wait on its `status_url` until it is granted; a rejected approval stays rejected."),
    Code("approval_pending_for_plan", R, (GATEWAY,),
         "A preflight finding: an approval for a deployment of this same plan is pending; that "
         "deployment holds its agents until it ends.",
         "Have the pending request decided (`cortex approvals decide`) instead of deploying the "
         "plan again."),
    Code("approval_required", R, (POLICY,),
         "A `require_approval` rule (or deployment limit) fired; the decision names who may "
         "approve and the approval request made for it.",
         "Wait on the approval (`status_url`), then authorize again with `approval_id`."),
    Code("approval_roles_need_approver", E, (GATEWAY,),
         "Approval roles were asked for a key whose role may not decide approvals.",
         "Give approval roles to an approver (or admin) key."),
    Code("approval_superseded", ER, (APPROVALS, POLICY),
         "A newer request of the same agent, action and resource replaced this approval.",
         "Use the newer approval (`superseded_by`)."),
    Code("approval_unverifiable", R, (POLICY,),
         "The approval workflow could not be reached to use the approval; nothing was used and "
         "the decision stays `require_approval`.",
         "Retry: authorize again with the same `approval_id` in a few seconds."),
    Code("approval_use_forbidden", E, (APPROVALS,),
         "Only the policy engine records uses of approvals.",
         "Authorize through the gateway with `approval_id`; the policy engine uses the "
         "approval."),
    Code("approval_used", ER, (APPROVALS, POLICY),
         "The approval was used as many times as it allows (one action per approval).",
         "A repeated action needs a new approval; as a reason, one was requested."),
    Code("approval_workflow_unavailable", R, (GATEWAY,),
         "A preflight finding (high): the approval workflow did not answer within the preflight "
         "deadline, so approvals of the plan are unknown; the verdict is at best "
         "`needs_approval`.",
         "Retry shortly; if it persists, check the approval workflow's `GET /readyz`."),
    Code("approved", R, (POLICY,),
         "Informational: a granted approval of this exact action by this agent was used; the "
         "decision is `allow` and names the approval and its approvers.",
         "Nothing to fix; the next action needs a new approval."),
    Code("approver_role_missing", E, (APPROVALS,),
         "The approver has none of the roles this approval requires.",
         "Ask someone with one of `required_roles` to decide."),
    Code("autonomy_above_ceiling", R, (POLICY,),
         "The requested autonomy level is above a ceiling of the policy.",
         "Run the action at the level in the counterfactual (e.g. with human confirmation), "
         "or ask a policy admin."),
    Code("bad_request", E, (KIT,),
         "A request the service cannot handle as sent (the generic error class).",
         "Read `detail` and `remediation` of the answer, fix the request and send it again."),
    Code("batch_too_large", ER, (GATEWAY, POLICY),
         "An error: the request carries more items than one request may. A reason: a "
         "deployment batch is larger than `deployments.max_agents_per_batch`.",
         "Split the request into smaller ones; for a deployment, use smaller batches (or ask "
         "for an approved override)."),
    Code("budget_exceeded", R, (POLICY,),
         "The estimated cost or tokens would take usage above a hard budget limit.",
         "Lower the estimate, wait for the reset the reason names, or ask a policy admin to "
         "raise the budget."),
    Code("budget_threshold_crossed", R, (POLICY,),
         "Warning: the request's reservation crosses a soft alert threshold; it is allowed.",
         "Nothing to fix now; watch the budget (alerted once per window)."),
    Code("conflict", E, (KIT,),
         "The request conflicts with the current state of the resource.",
         "Read the current state, then send a request that fits it."),
    Code("data_class_not_allowed", R, (POLICY,),
         "The data is more sensitive than the action, model or destination may receive.",
         "Redact or aggregate it down to the allowed class, or choose another model or "
         "destination."),
    Code("decision_log_unavailable", E, (POLICY,),
         "The decision could not be recorded in the decision log, so it is not given.",
         "Retry after `Retry-After`; if it persists, check the policy engine's database "
         "(`GET /readyz`)."),
    Code("decision_not_found", E, (POLICY,),
         "No decision with this id in the agency.",
         "Check the id; decisions are listed by `GET /v1/decisions`."),
    Code("deployment_blocked", E, (ROLLOUTS,),
         "The policy engine's evaluation of the plan is `fail` (`reasons`, each with its rule, "
         "actual, limit and remediation): nothing was created.",
         "Change the plan as each reason's remediation says, or ask to override the limit "
         "(`overrides`, which needs an approval)."),
    Code("deployment_needs_approval", R, (GATEWAY,),
         "A preflight finding: `POST /v1/deployments` would create the run as `pending_approval` "
         "(the policy asks for an approval, or the plan asks to override a limit); the finding "
         "names the quorum and roles.",
         "Deploy, then have an approver decide the request (`cortex approvals decide`); the run "
         "starts once it is granted."),
    Code("deployment_not_failed", E, (GATEWAY,),
         "A postmortem was asked for a deployment that neither failed nor was rolled back "
         "(`status` names where it is).",
         "Read its trail (`GET /v1/trail/{id}`) instead; a postmortem is written for a failed "
         "or rolled-back deployment."),
    Code("deployment_not_found", E, (ROLLOUTS,),
         "No deployment run with this id in the caller's agency (another agency's runs answer the "
         "same).",
         "List the agency's deployments (`GET /v1/deployments`) for their ids."),
    Code("event_not_found", E, (METRICS,),
         "No delivery event with this id.",
         "Check the id, and that the event was sent to this agency."),
    Code("forbidden", E, (KIT,),
         "The caller may not do this.",
         "Use a key or principal that may, or ask an admin."),
    Code("freeze_window", R, (POLICY,),
         "The environment is in a freeze window of the policy.",
         "Deploy after the window ends, or get break-glass approval when the window's effect "
         "is `require_approval`."),
    Code("http_error", E, (KIT,),
         "An HTTP error raised by the web framework itself; its status is the one it was "
         "raised with.",
         "See the API reference (`/docs`) for this endpoint."),
    Code("idempotency_in_progress", E, (GATEWAY,),
         "A request with the same `Idempotency-Key` is still running (on this or another "
         "gateway replica); it did not finish within the wait.",
         "Retry after the `Retry-After` delay: you will get the first request's answer."),
    Code("idempotency_key_reused", E, (KIT, GATEWAY, ROLLOUTS),
         "The `Idempotency-Key` was already used by this key for another request (another "
         "body, route or query) within 24 h.",
         "Use a new key for a new request; resend the same request unchanged to get its "
         "answer again."),
    Code("incident_before_deployment", E, (GATEWAY,),
         "An incident names, as its cause, a deployment that finished after it opened.",
         "Name the deployment that caused it, or fix the incident's or deployment's times."),
    Code("internal_error", E, (KIT,),
         "A bug: the server failed to handle the request.",
         "Retry later; if it persists, report it with the `X-Request-ID` of the answer."),
    Code("internal_signature_invalid", E, (KIT,),
         "A service refused a call the gateway did not sign (or signed with another secret).",
         "Call the service through the gateway; give every component the same internal "
         "secret."),
    Code("invalid_agency", E, (GATEWAY,),
         "The agency is not a valid slug.",
         "Agencies are slugs: lower-case letters, digits and `-`, up to 63 characters."),
    Code("invalid_api_key", E, (GATEWAY,),
         "The API key is malformed, unknown or revoked.",
         "Send a valid key as `Authorization: Bearer <key>`; create one with "
         "`cortex keys create`."),
    Code("invalid_approval", E, (APPROVALS,),
         "An approval request whose times or separation cannot work (expiry in the past, an "
         "escalation after the expiry, team separation without the requester's team).",
         "Fix the times or the separation as the answer's `detail` says."),
    Code("invalid_audit_cursor", E, (GATEWAY,),
         "The `cursor` of `GET /v1/audit` is not one the gateway answered.",
         "Pass the `next_cursor` of the previous page as it was, or omit it."),
    Code("invalid_bearer_token", E, (GATEWAY,),
         "A person's OpenID Connect token did not verify: its signature, issuer, audience or "
         "expiry (the detail says which).",
         "Sign in again to get a fresh token from the identity provider, or use an API key."),
    Code("invalid_body", E, (POLICY,),
         "The JSON body cannot be parsed.",
         "Send valid JSON (UTF-8) with `Content-Type: application/json`."),
    Code("invalid_cursor", E, (APPROVALS,),
         "The pagination cursor is not one this service gave out.",
         "Use the `next` cursor of the previous page unchanged, or start without one."),
    Code("invalid_dora_query", E, (METRICS,),
         "A DORA query the calculators cannot answer as asked.",
         "Fix the window, bucket or time as `detail` says."),
    Code("invalid_encoding", E, (POLICY,),
         "The body is not valid UTF-8.",
         "Send the text encoded as UTF-8."),
    Code("invalid_event", E, (GATEWAY,),
         "A delivery event whose fields do not fit together (e.g. it finished before it "
         "started).",
         "Fix the fields named in `detail` and send the event again."),
    Code("invalid_idempotency_key", E, (GATEWAY,),
         "The `Idempotency-Key` header is empty, too long or holds characters it may not.",
         "Send a UUID (or another unique printable token of up to 255 characters)."),
    Code("invalid_mapping", E, (GATEWAY,),
         "A delivery mapping document that cannot be used; `field` names the culprit.",
         "Fix `field` and send the whole document again."),
    Code("invalid_notification_url", E, (APPROVALS,),
         "A notification target that is not an http(s) URL with a host (or does not resolve).",
         "Give an http(s) URL with a host name that resolves; `target` is its index."),
    Code("invalid_path", E, (KIT,),
         "The path holds control characters (`%00`, `%0A`), which no id may hold.",
         "Remove control characters from the ids in the path."),
    Code("invalid_plan", E, (ROLLOUTS,),
         "The deployment plan does not match its schema (`errors`: each location and message), or "
         "is not a YAML/JSON mapping.",
         "Fix the fields named in `errors` (docs/rollouts.md \"The plan\")."),
    Code("invalid_request", E, (KIT,),
         "The request does not match the route's schema (query, path, headers or body).",
         "Fix the fields listed in `errors`; the OpenAPI document (`/openapi.json`) has the "
         "schema."),
    Code("invalid_roles", E, (APPROVALS,),
         "`X-Cortex-Roles` or `X-Cortex-Team` is not a list of lowercase identifiers.",
         "Send comma-separated lowercase identifiers (the gateway sets them from the key)."),
    Code("invalid_selector", E, (ROLLOUTS,),
         "The label selector is not `key=value[,key=value…]` (equality only).",
         "Write the selector as key=value pairs separated by commas."),
    Code("invalid_signature", E, (GATEWAY,),
         "A webhook delivery's signature is wrong (or was made with another secret).",
         "Configure the provider's webhook with the secret an admin set for the agency."),
    Code("invalid_time", E, (METRICS,),
         "A time in the DORA query cannot be read.",
         "Send a date (2025-03-03, midnight UTC) or an RFC 3339 time with a timezone."),
    Code("invalid_transition", E, (ROLLOUTS,),
         "The command (pause, resume, abort, rollback) does not apply to the run's status; "
         "`allowed` lists the ones that do.",
         "Send one of the commands in `allowed` (none: the run has ended)."),
    Code("invalid_value", E, (KIT,),
         "Input the store cannot hold (a NUL character, a number out of range).",
         "Remove control characters from strings and keep integers within 64 bits."),
    Code("invalid_window", E, (METRICS,),
         "An empty DORA window, or one the calculators cannot answer in the buckets asked for.",
         "Send `from` before `to`, and a window the buckets divide."),
    Code("key_not_found", E, (GATEWAY,),
         "No active API key with this id.",
         "List keys with `GET /v1/keys`."),
    Code("malformed_body", E, (KIT,),
         "The body cannot be read as JSON at all: it is not UTF-8, or it is cut short.",
         "Send a UTF-8 JSON document with `Content-Type: application/json`; its schema is in "
         "`/openapi.json`."),
    Code("mapping_version_not_found", E, (GATEWAY,),
         "No delivery mapping with this version.",
         "List the versions with `GET /v1/metrics/mappings/versions`."),
    Code("method_not_allowed", E, (KIT,),
         "The route exists but not with this HTTP method.",
         "Use one of `allowed_methods`."),
    Code("metrics_collector_unavailable", R, (GATEWAY,),
         "A preflight finding (high): the metrics collector did not answer within the preflight "
         "deadline, so the service's recent change failure rate is unknown; the verdict is at "
         "best `needs_approval`.",
         "Retry shortly; if it persists, check the metrics collector's `GET /readyz`."),
    Code("missing_api_key", E, (GATEWAY,),
         "No API key was sent.",
         "Send `Authorization: Bearer <key>` (or configure `CORTEX_API_KEY` for the CLI)."),
    Code("missing_signature", E, (GATEWAY,),
         "A webhook delivery carries no signature, or its agency has no secret configured.",
         "Set the secret (`PUT /v1/webhooks/{provider}/secret`) and configure it in the "
         "provider, which then signs every delivery."),
    Code("model_denied", R, (POLICY,),
         "The model matches a deny glob of the policy.",
         "Use a model that does not match it."),
    Code("model_not_allowed", R, (POLICY,),
         "The model matches no allow-list of the policy.",
         "Use one of the listed models."),
    Code("no_policy", R, (POLICY,),
         "The agency has no policy of its own and the org baseline does not admit agencies "
         "without one (or there is no baseline): every action is denied.",
         "Publish a policy for the agency (`PUT /v1/agencies/{agency}/policy` or the wizard), "
         "or set `agencies_without_policy: baseline` in the org baseline."),
    Code("no_targets", E, (ROLLOUTS,),
         "The plan's `targets.selector` matches no agent of the agency.",
         "Check `targets.selector` against the agents' labels (`GET /v1/agents`)."),
    Code("not_found", E, (KIT,),
         "No such resource.",
         "Check the id and the agency it belongs to."),
    Code("not_ready", E, (KIT,),
         "The service is not ready: a dependency in `checks` is down or migrations are "
         "missing.",
         "Check that PostgreSQL and NATS are reachable and migrations applied; retry."),
    Code("notification_url_forbidden", E, (APPROVALS,),
         "A notification target on a loopback, private, link-local or otherwise non-public "
         "address.",
         "Use a public http(s) endpoint; `target` is the index of the refused one."),
    Code("oidc_claims_insufficient", E, (GATEWAY,),
         "A valid OpenID Connect token whose claims name no role (no role claim, no mapped "
         "group) or no agency, or a non-admin spanning every agency.",
         "Have the identity provider add the role claim (or a group listed in "
         "`CORTEX_GATEWAY_OIDC_ROLE_MAP`) and the agency claim (docs/api.md 'People (OIDC)')."),
    Code("org_admin_required", E, (GATEWAY,),
         "A write that governs every agency, made with a key scoped to one.",
         "Use an org-wide admin key (`cortex keys create --agency '*' --role admin`)."),
    Code("override_requested", R, (GATEWAY,),
         "A preflight finding: the plan asks to override a policy limit (`overrides`), so the run "
         "would wait for an approval.",
         "Get the approval, or change the plan to fit the limit and drop the override."),
    Code("payload_masked", R, (POLICY,),
         "Informational: the payload is above `pii.max_payload_bytes`; all of it will be "
         "masked (`on_oversize: mask_all`).",
         "Nothing to fix; send smaller payloads to have them scanned instead."),
    Code("payload_too_large", ER, (KIT, POLICY),
         "An error (413): the request body is larger than the route accepts (`limit_bytes`). "
         "A reason: the payload is above `pii.max_payload_bytes` and the policy denies what it "
         "cannot scan.",
         "Send a smaller body (split batches); for the reason, send a smaller payload or ask "
         "for `on_oversize: mask_all`."),
    Code("pii_denied", R, (POLICY,),
         "The payload contains PII or secrets of an entity the policy denies.",
         "Remove them from the payload."),
    Code("pii_masked", R, (POLICY,),
         "Informational: these PII entities will be masked before the payload goes anywhere.",
         "Nothing to fix."),
    Code("plan_too_large", E, (ROLLOUTS,),
         "The plan is larger than the rollout orchestrator reads (a body limit).",
         "Select targets by labels instead of listing thousands of ids."),
    Code("policy_compile_failed", E, (POLICY,),
         "The merged policy does not compile; nothing was published.",
         "Fix the condition or value named in `detail`, validate (`POST /v1/policies/validate`) "
         "and publish again."),
    Code("policy_engine_unavailable", R, (GATEWAY,),
         "A preflight finding (high): the policy engine did not judge the plan (creation would "
         "answer 503 `policy_unavailable`); the verdict is `fail` (closed).",
         "Retry shortly; if it persists, check the policy engine's `GET /readyz`."),
    Code("policy_error", E, (POLICY,),
         "A policy that cannot be used (the generic class of the policy errors).",
         "Read `detail` and `issues`, fix the policy and send it again."),
    Code("policy_evaluation_error", R, (POLICY,),
         "The policy could not be evaluated (a condition errored), so it denies.",
         "Send the fields the condition reads, fix their types, or fix the condition."),
    Code("policy_invalid", E, (POLICY,),
         "The policy document is invalid; `issues` lists every problem with line and column.",
         "Fix every issue listed in `issues` (each has its position and remediation)."),
    Code("policy_loosens_parent", E, (POLICY,),
         "An overlay would loosen a parent policy; a child layer may only tighten.",
         "Remove or tighten each value listed in `issues`."),
    Code("policy_not_found", E, (POLICY,),
         "No policy (or policy version) here.",
         "Publish one (`PUT /v1/agencies/{agency}/policy`) or check the version."),
    Code("policy_scope_mismatch", ISSUE, (POLICY,),
         "The document's `metadata` (layer, agency, team) is not where it is published.",
         "Set `metadata.layer` / `agency` / `team` to where you publish it."),
    Code("policy_too_deep", E, (POLICY,),
         "The policy text nests deeper than `CORTEX_POLICY_ENGINE_POLICY_MAX_DEPTH`.",
         "Flatten the document; a policy needs only a few levels of nesting."),
    Code("policy_too_large", E, (POLICY,),
         "The policy text is larger than `CORTEX_POLICY_ENGINE_POLICY_MAX_BYTES`.",
         "Send a smaller policy (split it into layers), or raise the limit."),
    Code("policy_too_many_aliases", E, (POLICY,),
         "The policy text has more YAML aliases than `CORTEX_POLICY_ENGINE_POLICY_MAX_ALIASES`.",
         "Write the values out instead of aliasing them."),
    Code("policy_too_many_nodes", E, (POLICY,),
         "The policy expands to more values than `CORTEX_POLICY_ENGINE_POLICY_MAX_NODES` once "
         "every alias is expanded.",
         "Remove nested aliases (a \"billion laughs\" text is refused this way)."),
    Code("policy_unavailable", E, (ROLLOUTS,),
         "The policy engine did not judge the plan (timeout, outage): the run is refused, failing "
         "closed.",
         "Retry shortly; if it persists, check the policy engine's health (`GET /readyz`)."),
    Code("principal_required", E, (APPROVALS,),
         "The call does not say who the caller is (`X-Cortex-Principal`).",
         "Call through the gateway, which sets the principal from the key."),
    Code("rate_limited", E, (GATEWAY,),
         "The API key spent its token bucket (`limit_per_s`, `burst`); the limit is shared by "
         "every gateway replica.",
         "Wait for the `Retry-After` delay, then spread the calls; ask an admin for a higher "
         "limit (`CORTEX_GATEWAY_RATE_LIMIT_OVERRIDES`) if the load is expected."),
    Code("recent_change_failure_rate", R, (GATEWAY,),
         "A preflight risk note: the service's change failure rate over the last 30 days "
         "(`actual`; a warning above `limit`, 15 %). It does not change the verdict.",
         "Above 15 %: look at the recent failures (`GET /v1/metrics/dora`) and prefer smaller "
         "batches and longer observation."),
    Code("reservation_not_found", E, (POLICY,),
         "No open budget reservation for the decision whose usage is reported.",
         "Report usage once, for a decision that reserved budget, before it expires."),
    Code("risk_above_threshold", R, (POLICY,),
         "The plan's risk score is above `deployments.approval_above_risk`; it needs approval.",
         "Lower the risk (smaller batches, fewer changes) or get the approval."),
    Code("role_forbidden", E, (GATEWAY,),
         "The key's role may not call this route.",
         "Use a key with one of `required_roles`."),
    Code("rollout_orchestrator_unavailable", R, (GATEWAY,),
         "A preflight finding (high): the rollout orchestrator did not answer within the "
         "preflight deadline, so neither batches nor the policy's evaluation are known; the "
         "verdict is `fail` (closed).",
         "Retry shortly; if it persists, check the rollout orchestrator's `GET /readyz`."),
    Code("route_not_found", E, (KIT,),
         "No route with this path.",
         "Check the path against the API reference (`/docs`)."),
    Code("route_not_in_key_scope", E, (GATEWAY,),
         "The API key is limited to some routes (its `routes`, listed as `key_routes`) and "
         "this route is not one of them.",
         "Use a key whose routes include this one, or create one with "
         "`cortex keys create … --route 'METHOD /v1/path'`."),
    Code("rule_denied", R, (POLICY,),
         "A `deny` rule of the policy fired; its message and remediation come from the policy.",
         "Follow the rule's remediation, or change the request so that the rule does not "
         "match."),
    Code("same_team_forbidden", E, (APPROVALS,),
         "The approval requires an approver outside the requester's team.",
         "Ask someone of another team to decide."),
    Code("self_approval_forbidden", E, (APPROVALS,),
         "The requester may not approve their own request.",
         "Ask another approver."),
    Code("targets_busy", E, (ROLLOUTS,),
         "Agents of the plan are already in an active run of the agency (`conflicts`: agent and "
         "deployment).",
         "Wait for that deployment to end, abort it, or leave these agents out."),
    Code("too_many_config_changes", R, (POLICY,),
         "A deployment carries more config changes than `deployments.max_config_changes`.",
         "Split the change into several deployments (or ask for an approved override)."),
    Code("trail_deployment_unavailable", E, (GATEWAY,),
         "A postmortem needs the deployment's record and the rollout orchestrator did not "
         "answer.",
         "Retry shortly; check `GET /readyz` of the rollout orchestrator."),
    Code("trail_not_found", E, (GATEWAY,),
         "No deployment, approval, decision or incident of the agency has this id (another "
         "agency's id answers the same); `unavailable` names services that did not answer.",
         "Use an id of your agency's deployment, approval or decision; retry if a service "
         "did not answer."),
    Code("trail_unavailable", E, (GATEWAY,),
         "None of the services an id could belong to answered, so the trail cannot be found.",
         "Retry shortly; check `GET /readyz` of the services."),
    Code("trail_without_deployment", E, (GATEWAY,),
         "A postmortem was asked for a trail that has no deployment (an agent action's "
         "decision or approval).",
         "Read its trail (`GET /v1/trail/{id}`) instead."),
    Code("unauthorized", E, (KIT,),
         "The caller is not authenticated.",
         "Send valid credentials."),
    Code("unavailable", E, (KIT,),
         "The service cannot answer now.",
         "Retry after `Retry-After`."),
    Code("unknown_bucket", E, (METRICS,),
         "The DORA bucket is not one the calculators know.",
         "Use `bucket=day`, `week` or `month`, or leave it out for no trend."),
    Code("unknown_route_scope", E, (GATEWAY,),
         "A route scope asked for a new key names no route of the API (listed as `unknown`).",
         "Write each as `METHOD /v1/path/{param}` exactly as `/openapi.json` lists it (`*` for "
         "any method, a trailing `/*` for every route below a path)."),
    Code("unknown_targets", E, (ROLLOUTS,),
         "`targets.ids` names agents the agency has not registered (`missing`).",
         "Register the agents first (`POST /v1/agents`) or remove them from `targets.ids`."),
    Code("unsupported_media_type", E, (POLICY,),
         "The body's content type is not one the route reads.",
         "Send `application/yaml` or `application/json`."),
    Code("unsupported_plan_type", E, (ROLLOUTS,),
         "The plan was sent with a content type other than YAML or JSON.",
         "Send `Content-Type: application/yaml` or `application/json`."),
    Code("upstream_timeout", E, (KIT, GATEWAY),
         "A service did not answer within the gateway's upstream timeout "
         "(`CORTEX_GATEWAY_UPSTREAM_TIMEOUT_S`, `timeout_s` in the answer): the outcome of the "
         "call is unknown, it may have been applied.",
         "Read the resource back before retrying a change, or retry it with the same "
         "`Idempotency-Key`; a read can be retried as it is."),
    Code("upstream_unavailable", E, (KIT, GATEWAY),
         "A dependency (PostgreSQL, NATS, another service) did not answer; `dependency` names "
         "it.",
         "Retry shortly; check `GET /readyz` of that service."),
    Code("webhook_payload_invalid", E, (GATEWAY,),
         "A webhook payload the gateway cannot use.",
         "Send the provider's JSON payload unchanged."),
    Code("webhook_secret_not_found", E, (GATEWAY,),
         "No webhook secret is set for this agency and provider.",
         "Set one (`PUT /v1/webhooks/{provider}/secret`), then configure it in the provider."),
    Code("webhook_secret_unreadable", E, (GATEWAY,),
         "A stored webhook secret does not decrypt under any configured key (fail closed).",
         "Start the gateway with the key the secret was stored under "
         "(`CORTEX_GATEWAY_SECRETS_KEY`)."),
    Code("window_too_large", E, (METRICS,),
         "The DORA window is longer than the calculators answer (`max_days`).",
         "Ask for a shorter window."),
    Code("wizard_incomplete", E, (POLICY,),
         "The first-run wizard cannot publish: steps are missing (`missing_steps`).",
         "Complete the listed steps, then publish."),
    Code("wizard_step_invalid", E, (POLICY,),
         "A wizard step's answer does not fit its schema.",
         "GET the wizard for each step's schema and fix the fields named."),
    Code("wizard_step_loosens_parent", E, (POLICY,),
         "A wizard step would loosen the parent (org) policy.",
         "Tighten the value, or ask an org admin to loosen the parent."),
    Code("wizard_step_not_found", E, (POLICY,),
         "No wizard step of this name.",
         "GET the wizard for its steps."),
)  # fmt: skip


def _index(codes: Sequence[Code]) -> Mapping[str, Code]:
    out: dict[str, Code] = {}
    for entry in codes:
        if entry.code in out:
            raise ValueError(f"code {entry.code!r} is registered twice")
        out[entry.code] = entry
    return MappingProxyType(out)


REGISTRY: Mapping[str, Code] = _index(_CODES)
"""Every code, by name."""

_KIND_TITLE = {
    "error": "error (problem+json `code`)",
    "reason": "reason of a decision",
    "issue": "issue of `policy_invalid`",
}


def render_markdown(registry: Mapping[str, Code] = REGISTRY) -> str:
    """docs/errors.md: an index, then one ``## code`` section per code."""
    lines = [
        "# Error and reason codes",
        "",
        "<!-- Rendered from libs/cortex_contracts/codes.py by "
        "`python -m cortex_contracts.codes --write`: edit the registry, not this file. -->",
        "",
        "Every code a component answers with: the `code` of a problem+json error (whose `type` "
        f"is `{DOCS_BASE}#<code>`), the `code` of a reason or finding in a policy decision "
        "(whose `docs_url` is the same address) and the few policy issue codes that are not "
        "field validation ([docs/policies.md](policies.md#validation) lists those). Each "
        "section says what the code means, who answers with it and how to fix it; the answer's "
        "own `detail` and `remediation` are usually more precise (they name the value).",
        "",
        " · ".join(f"[{code}](#{code})" for code in sorted(registry)),
        "",
    ]
    for code in sorted(registry):
        entry = registry[code]
        kinds = " and ".join(_KIND_TITLE[kind] for kind in entry.kinds)
        lines += [
            f"## {code}",
            "",
            f"*{kinds[0].upper()}{kinds[1:]}; answered by {', '.join(entry.emitted_by)}.*",
            "",
            entry.message,
            "",
            f"**Fix:** {entry.remediation}",
            "",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cortex_contracts.codes", description="Render docs/errors.md."
    )
    parser.add_argument("--write", action="store_true", help=f"write {DOCS_FILE}")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the checkout")
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.write:
        (args.root / DOCS_FILE).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
