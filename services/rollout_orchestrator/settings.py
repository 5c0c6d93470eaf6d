from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_ROLLOUT_ORCHESTRATOR_", frozen=True)

    service_name: str = "rollout-orchestrator"
    schema_name: str = "rollout"
    port: int = 8103
