from approval_workflow.models import metadata
from cortex_kit.migrations import run_env

run_env(metadata)
