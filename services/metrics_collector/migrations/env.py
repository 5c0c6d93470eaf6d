from cortex_kit.migrations import run_env
from metrics_collector.models import metadata

run_env(metadata)
