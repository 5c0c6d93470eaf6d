from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_APPROVAL_WORKFLOW_", frozen=True)

    service_name: str = "approval-workflow"
    schema_name: str = "approval"
    port: int = 8104
