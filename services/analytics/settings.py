from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_ANALYTICS_", frozen=True)

    service_name: str = "analytics"
    schema_name: str = "analytics"
    port: int = 8105
