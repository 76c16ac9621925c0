//! The messaging instruments (names and labels as in `docs/metrics.md`).

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;

/// Semantic-convention buckets for messaging durations (seconds).
pub(crate) const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[inline]
pub(crate) fn system() -> KeyValue {
    KeyValue::new("messaging.system", "nats")
}

#[derive(Debug, Clone)]
pub(crate) struct Instruments {
    pub(crate) meter: Meter,
    pub(crate) operation_duration: Histogram<f64>,
    pub(crate) process_duration: Histogram<f64>,
    pub(crate) sent: Counter<u64>,
    pub(crate) consumed: Counter<u64>,
    pub(crate) settlements: Counter<u64>,
    pub(crate) redeliveries: Counter<u64>,
}

impl Instruments {
    pub(crate) fn new(meter: Meter) -> Self {
        Self {
            operation_duration: meter
                .f64_histogram("messaging.client.operation.duration")
                .with_unit("s")
                .with_description("Duration of a messaging operation (publish, request, settle).")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            process_duration: meter
                .f64_histogram("messaging.process.duration")
                .with_unit("s")
                .with_description("Duration of processing a received message.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            sent: meter
                .u64_counter("messaging.client.sent.messages")
                .with_unit("{message}")
                .with_description("Messages a producer attempted to send.")
                .build(),
            consumed: meter
                .u64_counter("messaging.client.consumed.messages")
                .with_unit("{message}")
                .with_description("Messages delivered to a consumer.")
                .build(),
            settlements: meter
                .u64_counter("baker.messaging.settlements")
                .with_unit("{settlement}")
                .with_description("JetStream acknowledgements (ack, nak, term) sent.")
                .build(),
            redeliveries: meter
                .u64_counter("baker.messaging.redeliveries")
                .with_unit("{message}")
                .with_description("JetStream messages delivered more than once.")
                .build(),
            meter,
        }
    }
}
