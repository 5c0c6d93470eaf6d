from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_METRICS_COLLECTOR_", frozen=True)

    service_name: str = "metrics-collector"
    schema_name: str = "metrics"
    port: int = 8102
