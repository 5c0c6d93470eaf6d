"""The processes `cortex up` runs: one table for the CLI, end-to-end tests and the docs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DATABASE_NAME",
    "GATEWAY",
    "NATS_PORT",
    "POSTGRES_PORT",
    "PROCESSES",
    "ProcessSpec",
    "process_by_name",
]

NATS_PORT = 14222
POSTGRES_PORT = 15432
DATABASE_NAME = "cortex"
GATEWAY = "gateway"


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised process: `python -m <module>`, configured by `<env_prefix>*` variables."""

    name: str
    module: str
    env_prefix: str
    default_port: int

    @property
    def port_option(self) -> str:
        """The `cortex up` flag that sets its port, e.g. `--policy-engine-port`."""
        return f"--{self.name.replace('_', '-')}-port"

    @property
    def port_envvar(self) -> str:
        """The variable that sets its port, for `cortex up` and for the process itself."""
        return f"{self.env_prefix}PORT"


# Services first, the gateway (which calls them) last: the order of start-up and of the banner.
PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec("policy_engine", "policy_engine", "CORTEX_POLICY_ENGINE_", 8101),
    ProcessSpec("metrics_collector", "metrics_collector", "CORTEX_METRICS_COLLECTOR_", 8102),
    ProcessSpec(
        "rollout_orchestrator", "rollout_orchestrator", "CORTEX_ROLLOUT_ORCHESTRATOR_", 8103
    ),
    ProcessSpec("approval_workflow", "approval_workflow", "CORTEX_APPROVAL_WORKFLOW_", 8104),
    ProcessSpec("analytics", "analytics", "CORTEX_ANALYTICS_", 8105),
    ProcessSpec(GATEWAY, "gateway", "CORTEX_GATEWAY_", 8080),
)


def process_by_name(name: str) -> ProcessSpec:
    for spec in PROCESSES:
        if spec.name == name:
            return spec
    raise KeyError(name)
