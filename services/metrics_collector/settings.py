from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cortex_kit.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="CORTEX_METRICS_COLLECTOR_", frozen=True)

    service_name: str = "metrics-collector"
    schema_name: str = "metrics"
    port: int = 8102
    # DORA cache: staleness bound when a change notification is lost (normally milliseconds).
    dora_poll_interval_s: float = Field(default=1.0, gt=0)
    # Load every agency at start, so Prometheus has its series before the first query.
    dora_warm_on_start: bool = True
    dora_max_window_days: int = Field(default=731, ge=1)
    # Trailing window of the cortex_dora_* gauges.
    dora_prometheus_window_days: float = Field(default=30.0, gt=0)
