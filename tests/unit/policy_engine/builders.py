"""Small builders shared by the policy-engine domain tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policy_engine.domain.decisions.compiler import CompiledPolicy, compile_policy
from policy_engine.domain.decisions.decision import DecisionResult, Reason
from policy_engine.domain.decisions.evaluator import evaluate
from policy_engine.domain.decisions.inputs import AuthorizeInput, BudgetUsage, EvalContext
from policy_engine.domain.document.inheritance import Layer, merge
from policy_engine.domain.document.schema import PolicyDocument

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).parents[3] / "docs" / "examples" / "policies"


def document(
    spec: dict[str, Any] | None = None,
    *,
    layer: str = "org",
    name: str | None = None,
    agency: str | None = None,
    team: str | None = None,
) -> PolicyDocument:
    metadata: dict[str, Any] = {"name": name or f"{layer}-policy", "layer": layer}
    if layer in ("agency", "team"):
        metadata["agency"] = agency or "acme"
    if layer == "team":
        metadata["team"] = team or "payments"
    return PolicyDocument.model_validate(
        {
            "apiVersion": "cortex.codevald.io/v1",
            "kind": "AIPolicy",
            "metadata": metadata,
            "spec": spec or {},
        }
    )


def layered(*docs: PolicyDocument) -> list[Layer]:
    return [Layer(doc, index + 1, doc.metadata.layer) for index, doc in enumerate(docs)]


def compiled(*specs: dict[str, Any]) -> CompiledPolicy:
    """One spec = an org policy; two = org + agency; three = org + agency + team."""
    docs = [
        document(spec, layer=layer)
        for spec, layer in zip(specs, ("org", "agency", "team"), strict=False)
    ]
    return compile_policy(merge(layered(*docs)))


def rule(rule_id: str = "r1", **fields: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "match": {"actions": ["db.*"]},
        "effect": "deny",
        "message": f"{rule_id} fired",
        "remediation": f"fix {rule_id}",
        **fields,
    }


def request(**fields: Any) -> AuthorizeInput:
    values: dict[str, Any] = {
        "agency": "acme",
        "agent_id": "agent-1",
        "action_type": "db.read",
        "resource": "prod/customers",
    }
    values.update(fields)
    return AuthorizeInput(**values)


def context(**fields: Any) -> EvalContext:
    values: dict[str, Any] = {"now": NOW}
    if isinstance(fields.get("budget"), dict):
        fields["budget"] = BudgetUsage(**fields["budget"])
    values.update(fields)
    return EvalContext(**values)


def policy_text(spec_yaml: str, *, metadata: str = "{name: p, layer: org}") -> str:
    """A YAML policy whose spec starts on line 5 (``spec_yaml`` indented by two)."""
    indented = "\n".join(f"  {line}" if line else line for line in spec_yaml.splitlines())
    return (
        "apiVersion: cortex.codevald.io/v1\n"
        "kind: AIPolicy\n"
        f"metadata: {metadata}\n"
        "spec:\n"
        f"{indented}\n"
    )


def decide(policy: CompiledPolicy, ctx: EvalContext | None = None, **fields: Any) -> DecisionResult:
    return evaluate(policy, request(**fields), ctx or context())


def codes(result: DecisionResult) -> list[str]:
    return [reason.code for reason in result.reasons]


def single(result: DecisionResult, code: str) -> Reason:
    found = [reason for reason in result.reasons if reason.code == code]
    assert len(found) == 1, result.reasons
    return found[0]
