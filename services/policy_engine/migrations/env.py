from cortex_kit.migrations import run_env
from policy_engine.models import metadata

run_env(metadata)
