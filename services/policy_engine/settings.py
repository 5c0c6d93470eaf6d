from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_POLICY_ENGINE_", frozen=True)

    service_name: str = "policy-engine"
    schema_name: str = "policy"
    port: int = 8101

    policy_cache_max_age_s: float = 30.0
    decision_log_delay_s: float = 0.1
