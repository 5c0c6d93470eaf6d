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
    # Delivery consumer: batches handled at once (one transaction each), and the payload bytes
    # that end a batch (a DeliveryBatch envelope carries up to 500 events, ~75 KiB).
    delivery_consumer_concurrency: int = Field(default=2, ge=1, le=16)
    delivery_consumer_max_batch_bytes: int = Field(default=512 * 1024, ge=1)
    # Trailing window of the cortex_dora_* gauges.
    dora_prometheus_window_days: float = Field(default=30.0, gt=0)
