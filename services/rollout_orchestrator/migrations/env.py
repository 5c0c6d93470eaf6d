from cortex_kit.migrations import run_env
from rollout_orchestrator.models import metadata

run_env(metadata)
