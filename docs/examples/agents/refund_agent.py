"""A small real agent on the CodeValdCortex agent runtime (docs/agents.md).

It refunds orders. Its "revision" is the model and prompt it runs, loaded by `apply`; its
health is its recent error rate; before each refund it asks the policy engine, and when the
answer is `require_approval` it waits for the approvers, then asks again with the approval id.

    CORTEX_URL=http://127.0.0.1:8080 CORTEX_API_KEY=<agent key> \\
        python docs/examples/agents/refund_agent.py
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cortex_sdk.agent import AgentRuntime, Desired, Health
from cortex_sdk.client import CortexClient

# Where a real agent would fetch a revision from (a config service, an object store, git).
REVISIONS: dict[str, dict[str, str]] = {
    "rev-1": {"model": "gpt-4.1-mini", "prompt": "refunds-v1"},
    "rev-2": {"model": "gpt-4.1", "prompt": "refunds-v2"},
}


@dataclass
class RefundAgent:
    agent_id: str = "refund-agent-1"
    revision: str = "rev-1"
    config: dict[str, str] = field(default_factory=lambda: dict(REVISIONS["rev-1"]))
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=100))

    async def apply(self, desired: Desired) -> None:
        """Load the revision the orchestrator asks for; raising keeps the old one running."""
        if desired.revision not in REVISIONS:
            raise LookupError(f"revision {desired.revision} is not published")
        self.config = dict(REVISIONS[desired.revision])
        self.revision = desired.revision

    def health(self) -> Health:
        """Healthy while fewer than 10 % of the last refunds failed."""
        errors = self.outcomes.count(False)
        rate = errors / len(self.outcomes) if self.outcomes else 0.0
        return Health(rate < 0.1, {"error_rate": round(rate, 3), "model": self.config["model"]})

    async def refund(self, runtime: AgentRuntime, order: str, amount: int) -> str:
        """Ask before acting; wait for an approval when the policy wants one."""
        request: dict[str, Any] = {
            "payload": {"order": order, "amount": amount, "currency": "EUR"},
            "context": {"model": self.config["model"]},
        }
        action = {"type": "payments.refund", "resource": f"order/{order}"}
        answer = await runtime.authorize(action, **request)
        if answer["decision"] == "require_approval":
            approval = await runtime.wait_for_approval(answer["approval"]["id"], timeout_s=3600)
            if not approval.granted:
                return f"not refunded: approval {approval.outcome.value}"
            answer = await runtime.authorize(
                action, **request, approval_id=answer["approval"]["id"]
            )
        if answer["decision"] != "allow":
            return f"not refunded: {answer['decision']}"
        self.outcomes.append(True)  # the refund itself would happen here
        return f"refunded {amount} EUR on order {order}"


def runtime_for(agent: RefundAgent, client: CortexClient, **options: Any) -> AgentRuntime:
    return AgentRuntime(
        client,
        agent.agent_id,
        {"team": "payments", "tier": "canary"},
        "python-3.12",
        apply=agent.apply,
        health=agent.health,
        revision=agent.revision,
        **options,
    )


async def main() -> None:
    agent = RefundAgent()
    async with runtime_for(agent, CortexClient.from_env()) as runtime:
        print(await agent.refund(runtime, "42", 120))
        await asyncio.Event().wait()  # keep heartbeating and following revisions


if __name__ == "__main__":
    asyncio.run(main())
