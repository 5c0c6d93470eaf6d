from cortex_contracts import subject_filter
from cortex_kit.messaging.consumer import ConsumerSpec
from cortex_kit.settings import ProcessSettings
from metrics_collector.events.service import record_deliveries


def delivery_consumer(settings: ProcessSettings) -> ConsumerSpec:
    return ConsumerSpec(
        name="metrics-collector-delivery",
        stream="CORTEX_DELIVERY",
        filter_subjects=[subject_filter("delivery")],
        handler=record_deliveries,
        max_deliver=settings.consumer_max_deliver,
        ack_wait_s=settings.consumer_ack_wait_s,
        batch_size=settings.consumer_batch_size,
    )
