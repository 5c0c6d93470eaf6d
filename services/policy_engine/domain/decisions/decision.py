"""What an evaluation answers: the decision, every reason, approvals, masking, budget alerts."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

# re-exported: the reason builders import docs_url from here
from cortex_contracts.codes import docs_url as docs_url

Decision = Literal["allow", "deny", "require_approval"]
Severity = Literal["info", "warning", "low", "medium", "high", "critical"]
#: What a reason does to the decision: deny / require_approval block, the others inform
#: (``allow``: a granted approval lifted the require_approval reasons, evaluation/approvals.py).
Effect = Literal["deny", "require_approval", "mask", "alert", "allow"]
Number = int | float
Value = Number | str | None

# Reason codes: each is registered in cortex_contracts.codes, and its docs_url is its section of
# docs/errors.md (docs/policies.md#reason-codes explains them with the policy).
MODEL_NOT_ALLOWED = "model_not_allowed"
MODEL_DENIED = "model_denied"
AUTONOMY_ABOVE_CEILING = "autonomy_above_ceiling"
DATA_CLASS_NOT_ALLOWED = "data_class_not_allowed"
PII_DENIED = "pii_denied"
PII_MASKED = "pii_masked"
PAYLOAD_TOO_LARGE = "payload_too_large"
PAYLOAD_MASKED = "payload_masked"
BUDGET_EXCEEDED = "budget_exceeded"
BUDGET_THRESHOLD_CROSSED = "budget_threshold_crossed"
RULE_DENIED = "rule_denied"
APPROVAL_REQUIRED = "approval_required"
BATCH_TOO_LARGE = "batch_too_large"
TOO_MANY_CONFIG_CHANGES = "too_many_config_changes"
FREEZE_WINDOW = "freeze_window"
RISK_ABOVE_THRESHOLD = "risk_above_threshold"
POLICY_EVALUATION_ERROR = "policy_evaluation_error"
NO_POLICY = "no_policy"


# Results are NamedTuples: immutable like frozen dataclasses, but several times cheaper to
# build, which matters on the authorize hot path (a decision may carry many reasons).


class Reason(NamedTuple):
    """Why a decision came out as it did, with the fix (ARCHITECTURE §4 "finding / reason")."""

    code: str
    severity: Severity
    effect: Effect
    message: str
    remediation: str
    docs_url: str
    rule_id: str | None = None
    policy: str | None = None
    version: int | None = None
    layer: str | None = None
    actual: Value = None
    limit: Value = None
    counterfactual: str | None = None
    """The smallest change to the request that would clear this reason."""

    @property
    def blocking(self) -> bool:
        return self.effect in ("deny", "require_approval")

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class ApprovalRequirement(NamedTuple):
    """Merged over every reason that needs approval: union of roles, max quorum, min expiry."""

    roles: tuple[str, ...]
    quorum: int
    expires_in_s: int
    rule_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "roles": list(self.roles),
            "quorum": self.quorum,
            "expires_in_s": self.expires_in_s,
            "rule_ids": list(self.rule_ids),
        }


class BudgetAlert(NamedTuple):
    """A soft threshold this request crosses; the service publishes an alert event."""

    scope: Literal["agency", "agent"]
    period: Literal["daily", "monthly"]
    unit: Literal["usd", "tokens"]
    threshold: float
    used_before: Number
    used_after: Number
    limit: Number

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


_NO_FACTORS: Mapping[str, float] = MappingProxyType({})


class DecisionResult(NamedTuple):
    decision: Decision
    risk_score: float
    reasons: tuple[Reason, ...] = ()
    approval: ApprovalRequirement | None = None
    masked_entities: tuple[str, ...] = ()
    """PII entities the service must mask in the payload before it goes anywhere."""
    mask_all: bool = False
    """The whole payload must be masked (it was too large to scan)."""
    budget_alerts: tuple[BudgetAlert, ...] = ()
    """Soft thresholds crossed (only when the decision is allow)."""
    risk_factors: Mapping[str, float] = _NO_FACTORS
    """The normalised factors behind ``risk_score``."""

    @property
    def violations(self) -> tuple[Reason, ...]:
        return tuple(reason for reason in self.reasons if reason.blocking)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "risk_score": self.risk_score,
            "reasons": [reason.to_dict() for reason in self.reasons],
            "approval": self.approval.to_dict() if self.approval else None,
            "masked_entities": list(self.masked_entities),
            "mask_all": self.mask_all,
            "budget_alerts": [alert.to_dict() for alert in self.budget_alerts],
            "risk_factors": dict(self.risk_factors),
        }
