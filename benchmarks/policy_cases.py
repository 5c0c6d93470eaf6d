"""The policies and requests of the ``policy`` suite, shared by every tier of it.

Two agency policies, as YAML text:

- ``POLICY_20``: 20 blocking rules of every kind — a model allow-list and two deny globs, an
  autonomy ceiling and two per-action-glob ceilings, a data-class ceiling and one limit per
  destination and per model, PII (two entities denied, oversize payloads denied; e-mail is
  masked, which never blocks), two agent budgets (with a soft alert threshold) and six action
  rules, most with a CEL condition, with effects deny and require_approval;
- ``POLICY_100``: the same plus 80 generated action rules spread over the action types the
  requests use (literal types, globs and ``*``), matched on resources, labels and conditions.

A "rule" is one setting that can block a request on its own; each becomes one Cedar ``forbid``
(:mod:`benchmarks.policy_cedar`), so both engines evaluate the same 20 (or 100) rules.

``CASES`` are the requests: allows, denies for every kind of reason (several at once too) and
approvals, each with what the service would know besides the request (PII counts, budget use,
recent violations). Every condition reads only fields the requests carry, or guards them with
``has()``, so no condition errors (Cedar skips a rule whose condition errors; we deny).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from policy_engine.domain.decisions.compiler import CompiledPolicy, compile_policy
from policy_engine.domain.decisions.decision import Decision
from policy_engine.domain.decisions.inputs import AuthorizeInput, BudgetUsage, EvalContext
from policy_engine.domain.document.inheritance import Layer, merge
from policy_engine.domain.document.loader import parse_policy
from policy_engine.domain.document.schema import DataClass, PolicyDocument

AGENCY = "bench"
#: A weekday noon: no time-dependent surprise, and in the same UTC day as any budget.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

POLICY_20 = """\
# The 20-rule agency policy of the policy benchmark (each commented number is one rule).
apiVersion: cortex.codevald.io/v1
kind: AIPolicy
metadata:
  name: bench-20
  agency: bench
  layer: agency
  description: Support, billing and platform agents of the benchmark agency.
spec:
  models:
    allow: ["gpt-4o*", "gpt-4.1*", "claude-3-5-*", "claude-sonnet-4*"]   # 1
    deny: ["*-preview", "*experimental*"]                                  # 2, 3
  autonomy:
    ceiling: L3                                                            # 4
    actions:
      "prod.*": L2                                                         # 5
      "payments.*": L1                                                     # 6
  data:
    max_class: confidential                                                # 7
    destinations:
      "https://*": internal                                                # 8
    models:
      "gpt-4o-mini*": internal                                             # 9
  pii:
    entities:
      SECRET: deny                                                         # 10
      CREDIT_CARD: deny                                                    # 11
      EMAIL: mask
    max_payload_bytes: 65536
    on_oversize: deny                                                      # 12
  budgets:
    agent:
      daily: {usd: 25, tokens: 2000000}                                    # 13, 14
    alert_thresholds: [0.8]
  rules:                                                                   # 15-20
    - id: no-prod-db-drop
      description: Agents never drop or truncate production tables.
      match:
        actions: ["db.drop", "db.truncate"]
        resources: ["prod/*"]
      effect: deny
      severity: critical
      message: Dropping or truncating production tables is not allowed for agents.
      remediation: Open a change request; a human DBA performs destructive schema changes.
    - id: bulk-delete-approval
      match:
        actions: ["db.delete"]
      condition: "request.rows > 1000"
      effect: require_approval
      message: Deleting more than 1000 rows needs approval.
      remediation: Delete in smaller chunks or get approval from a data owner.
      approval:
        roles: [data-owner]
        expires_in: 4h
    - id: refund-approval
      match:
        actions: ["payments.refund"]
      condition: "request.amount_usd > 500"
      effect: require_approval
      message: Refunds above 500 USD need approval by a finance lead.
      remediation: Lower the refund or request approval.
      approval:
        roles: [finance-lead]
        expires_in: 2h
    - id: no-external-email-of-confidential
      match:
        actions: ["email.send"]
        labels: {audience: external}
      condition: "action.data_class == 'confidential'"
      effect: deny
      message: Confidential data may not be e-mailed outside the agency.
      remediation: Send a link to the document in the customer portal instead.
    - id: prod-deploy-approval
      match:
        actions: ["deploy.*"]
      condition: "request.environment == 'production' && action.autonomy_level >= 2"
      effect: require_approval
      message: Autonomous production deployments need a platform lead.
      remediation: Deploy at autonomy L1, or get approval from a platform lead.
      approval:
        roles: [platform-lead]
        quorum: 2
    - id: repeat-offender-spend
      match:
        actions: ["*"]
      condition: "agent.recent_violations >= 5 && action.estimated_cost_usd > 1.0"
      effect: require_approval
      message: An agent with recent violations needs approval for costly actions.
      remediation: Keep the action under 1 USD or get approval from the agent's owner.
"""

#: The Cedar ``when`` condition of each CEL condition (see :mod:`benchmarks.policy_cedar` for
#: the context layout): hand-translated for the 20 rules, generated with the 80 others.
CEDAR_CONDITIONS: dict[str, str] = {
    "request.rows > 1000": "context.request.rows > 1000",
    "request.amount_usd > 500": "context.request.amount_usd > 500",
    "action.data_class == 'confidential'": 'context.data_class == "confidential"',
    "request.environment == 'production' && action.autonomy_level >= 2": (
        'context.request.environment == "production" && context.autonomy >= 2'
    ),
    # Cedar has no floating point: money is in whole cents on the Cedar side.
    "agent.recent_violations >= 5 && action.estimated_cost_usd > 1.0": (
        "context.recent_violations >= 5 && context.cost_cents > 100"
    ),
}

#: Action patterns the 80 extra rules of POLICY_100 are spread over (8 rules each).
EXTRA_ACTIONS = (
    "db.read",
    "db.delete",
    "db.*",
    "email.send",
    "payments.*",
    "deploy.*",
    "prod.*",
    "crm.update",
    "ticket.*",
    "*",
)


def _extra_rule(n: int) -> tuple[str, dict[str, str]]:
    """Extra rule ``n`` as YAML lines, and its CEL → Cedar condition (if it has one)."""
    action = EXTRA_ACTIONS[n % len(EXTRA_ACTIONS)]
    kind = n // len(EXTRA_ACTIONS)  # 0..7: what the rule matches on
    effect = "deny" if n % 3 else "require_approval"
    match = f"        actions: [{json.dumps(action)}]\n"
    cel = cedar = None
    if kind == 0:
        cel = f"has(request.tag) && request.tag == 'blocked-{n}'"
        cedar = f'context.request has tag && context.request.tag == "blocked-{n}"'
    elif kind == 1:
        cel = f"action.estimated_tokens > {500_000 + n * 1000}"
        cedar = f"context.tokens > {500_000 + n * 1000}"
    elif kind == 2:
        cel = f"resource.id.startsWith('legacy-{n}/')"
        cedar = f'resource.path like "legacy-{n}/*"'
    elif kind == 3:
        cel = f"agent.recent_violations >= {20 + n}"
        cedar = f"context.recent_violations >= {20 + n}"
    elif kind == 4:
        cel = (
            "action.data_class == 'restricted' && action.autonomy_level >= 3 "
            f"&& has(request.batch_{n})"
        )
        cedar = (
            f'context.data_class == "restricted" && context.autonomy >= 3 '
            f"&& context.request has batch_{n}"
        )
    elif kind == 5:
        cel = f"has(request.ticket_count) && request.ticket_count > {100 + n}"
        cedar = f"context.request has ticket_count && context.request.ticket_count > {100 + n}"
    elif kind == 6:
        match += f'        resources: ["archive-{n}/*"]\n'
    else:
        match += f"        labels: {{tier: gold-{n}}}\n"
    lines = (
        f"    - id: extra-{n:02d}\n"
        f"      match:\n{match}"
        + (f"      condition: {json.dumps(cel)}\n" if cel else "")
        + f"      effect: {effect}\n"
        f"      message: Extra rule {n} fired.\n"
        f"      remediation: Change what extra rule {n} matches.\n"
    )
    return lines, ({cel: cedar} if cel and cedar else {})


def _policy_100() -> str:
    text = POLICY_20.replace("name: bench-20", "name: bench-100").replace(
        "The 20-rule", "The 100-rule"
    )
    for n in range(80):
        lines, conditions = _extra_rule(n)
        text += lines
        CEDAR_CONDITIONS.update(conditions)
    return text


POLICY_100 = _policy_100()


def without_budgets(text: str, *, agency: str = AGENCY) -> str:
    """The same policy with no budget (18 rules), for an agency named ``agency``."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if line.startswith("  budgets:"):
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        kept.append(line)
    return with_agency("".join(kept), agency)


def with_agency(text: str, agency: str) -> str:
    return text.replace(f"agency: {AGENCY}\n", f"agency: {agency}\n", 1)


def parse(text: str) -> PolicyDocument:
    return parse_policy(text)


def compile_text(text: str) -> CompiledPolicy:
    """What the service does at publish time: parse, merge (one agency layer), compile."""
    return compile_policy(merge([Layer(parse_policy(text), 1, "agency")]))


# -------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Case:
    """One request and what the service knows besides it."""

    name: str
    expect: Decision
    """The decision under POLICY_20 (checked, so the mix stays what it claims to be)."""
    action_type: str
    resource: str
    agent_id: str = "agent-1"
    model: str | None = None
    autonomy: int = 1
    data_class: DataClass = "internal"
    destination: str | None = None
    cost_usd: float = 0.05
    tokens: int = 2_000
    labels: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    pii: Mapping[str, int] = field(default_factory=dict)
    oversize: bool = False
    spent_usd: float = 3.0
    spent_tokens: int = 150_000
    recent_violations: int = 0
    payload: str = "Please summarise the attached ticket thread for the weekly report."
    """What the agent sends over HTTP (scanned for PII there)."""

    def authorize_input(self) -> AuthorizeInput:
        return AuthorizeInput(
            agency=AGENCY,
            agent_id=self.agent_id,
            action_type=self.action_type,
            resource=self.resource,
            labels=dict(self.labels),
            model=self.model,
            autonomy_level=self.autonomy,
            data_class=self.data_class,
            destination=self.destination,
            estimated_cost_usd=self.cost_usd,
            estimated_tokens=self.tokens,
            extra=dict(self.extra),
        )

    def eval_context(self) -> EvalContext:
        return EvalContext(
            now=NOW,
            pii_entities_found=dict(self.pii),
            payload_oversize=self.oversize,
            payload_bytes=70_000 if self.oversize else None,
            budget=BudgetUsage(
                agent_daily_usd=self.spent_usd, agent_daily_tokens=self.spent_tokens
            ),
            recent_violations=self.recent_violations,
        )

    def http_body(self, agent_id: str | None = None) -> dict[str, Any]:
        """The ``POST /v1/authorize`` body of this request."""
        action: dict[str, Any] = {
            "type": self.action_type,
            "resource": self.resource,
            "autonomy_level": f"L{self.autonomy}",
            "data_class": self.data_class,
            "estimated_cost_usd": self.cost_usd,
            "estimated_tokens": self.tokens,
        }
        if self.labels:
            action["labels"] = dict(self.labels)
        if self.model is not None:
            action["model"] = self.model
        if self.destination is not None:
            action["destination"] = self.destination
        body: dict[str, Any] = {
            "agent_id": agent_id or self.agent_id,
            "action": action,
            "payload": {"prompt": self.payload},
        }
        if self.extra:
            body["context"] = dict(self.extra)
        return body


_EXTERNAL = {"audience": "external"}

CASES: tuple[Case, ...] = (
    # allow
    Case("allow-email", "allow", "email.send", "crm/contacts/88", model="gpt-4o-mini",
         labels=_EXTERNAL),
    Case("allow-read-confidential", "allow", "db.read", "prod/customers",
         model="claude-3-5-sonnet", autonomy=2, data_class="confidential"),
    Case("allow-small-refund", "allow", "payments.refund", "stripe/ch_42",
         extra={"amount_usd": 120}),
    Case("allow-staging-deploy", "allow", "deploy.service", "checkout/staging",
         model="gpt-4.1", autonomy=3, extra={"environment": "staging"}),
    Case("allow-masked-email", "allow", "ticket.reply", "zendesk/1234", model="gpt-4o",
         pii={"EMAIL": 2}, payload="Reply to jane.doe@example.com and ops@example.org today."),
    Case("allow-small-delete", "allow", "db.delete", "prod/sessions", extra={"rows": 10}),
    Case("allow-drop-staging", "allow", "db.drop", "staging/orders", autonomy=2),
    Case("allow-crm-update", "allow", "crm.update", "crm/accounts/7", model="claude-sonnet-4",
         labels={"tier": "silver"}),
    Case("allow-prod-deploy-l1", "allow", "deploy.service", "checkout/prod",
         extra={"environment": "production"}),
    Case("allow-cheap-repeat-offender", "allow", "ticket.close", "zendesk/77",
         recent_violations=6, cost_usd=0.4),
    # deny: one reason each
    Case("deny-model-not-allowed", "deny", "email.send", "crm/contacts/9", model="mistral-large"),
    Case("deny-model-denied", "deny", "db.read", "prod/orders", model="gpt-4o-preview"),
    Case("deny-autonomy-prod", "deny", "prod.restart", "checkout/api", autonomy=3),
    Case("deny-destination", "deny", "http.post", "webhook", data_class="confidential",
         destination="https://api.partner.example/v1/upload"),
    Case("deny-model-data-class", "deny", "db.read", "prod/customers", model="gpt-4o-mini",
         data_class="confidential"),
    Case("deny-secret", "deny", "shell.exec", "ci/runner-3", pii={"SECRET": 1},
         payload="export AWS_ACCESS_KEY_ID=AKIAQ2D6RXW7MZKPL3TB && make deploy"),
    Case("deny-card-and-email", "deny", "email.send", "crm/contacts/12",
         pii={"CREDIT_CARD": 1, "EMAIL": 1},
         payload="Card 4111 1111 1111 1111 on file for bill@example.com"),
    Case("deny-oversize", "deny", "doc.summarise", "drive/q3-report", oversize=True),
    Case("deny-budget-usd", "deny", "llm.complete", "chat/991", model="gpt-4o",
         cost_usd=0.5, spent_usd=24.9),
    Case("deny-budget-tokens", "deny", "llm.complete", "chat/992", model="claude-3-5-haiku",
         tokens=20_000, spent_tokens=1_990_000),
    Case("deny-prod-drop", "deny", "db.drop", "prod/orders", autonomy=2),
    Case("deny-external-confidential", "deny", "email.send", "crm/contacts/31",
         data_class="confidential", labels=_EXTERNAL),
    # deny: several reasons at once
    Case("deny-many", "deny", "iam.grant", "aws/role/admin", model="llama-3.1-70b", autonomy=4,
         data_class="restricted", destination="https://paste.example", pii={"SECRET": 2},
         payload="Run the grant with token AKIAQ2D6RXW7MZKPL3TB and password=Zx9kQ2vLm8pR4tWq"),
    Case("deny-beats-approval", "deny", "payments.refund", "stripe/ch_77", autonomy=2,
         extra={"amount_usd": 900}),
    # require_approval
    Case("approve-bulk-delete", "require_approval", "db.delete", "prod/events",
         extra={"rows": 5000}),
    Case("approve-big-refund", "require_approval", "payments.refund", "stripe/ch_88",
         extra={"amount_usd": 900}),
    Case("approve-prod-deploy", "require_approval", "deploy.service", "checkout/prod",
         model="gpt-4.1", autonomy=2, extra={"environment": "production"}),
    Case("approve-repeat-offender", "require_approval", "crm.update", "crm/accounts/9",
         recent_violations=6, cost_usd=2.0),
    Case("approve-two-rules", "require_approval", "deploy.service", "checkout/prod",
         autonomy=2, recent_violations=7, cost_usd=3.0, extra={"environment": "production"}),
    # only the 100-rule policy blocks these (extra rules); the 20-rule one allows them
    Case("extra-tag", "allow", "db.read", "prod/customers", extra={"tag": "blocked-0"}),
    Case("extra-archive", "allow", "crm.update", "archive-67/accounts"),
    Case("extra-label", "allow", "ticket.close", "zendesk/5", labels={"tier": "gold-78"}),
    Case("extra-tokens", "allow", "email.send", "crm/contacts/5", tokens=900_000,
         spent_tokens=0),
)  # fmt: skip
