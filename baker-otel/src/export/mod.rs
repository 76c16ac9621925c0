//! The export pipeline: a private runtime for exporters and bounded, drop-counting batch queues.
//!
//! Exporters (tonic, reqwest) run on a dedicated one-worker tokio runtime owned by the
//! [`Telemetry`](crate::Telemetry) guard, so export works the same inside and outside the
//! application's runtime and can never starve it. Spans and log records reach that runtime
//! through bounded queues; when a queue is full the item is dropped and counted, never blocking
//! the caller.

pub(crate) mod batch;
pub(crate) mod build;
pub(crate) mod console;
#[cfg(feature = "otlp-grpc")]
pub(crate) mod grpc;
#[cfg(feature = "otlp-grpc")]
pub(crate) mod grpc_call;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod headers;
#[cfg(feature = "otlp-http")]
pub(crate) mod http;
#[cfg(feature = "otlp-http")]
pub(crate) mod http_proto;
pub(crate) mod recycle;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod retry;
pub(crate) mod runtime;
pub(crate) mod select;
pub(crate) mod sink;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod tls;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod proto;
pub(crate) mod size;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::SdkLogRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A log record with its scope, as queued for export.
pub(crate) type LogItem = (SdkLogRecord, InstrumentationScope);

/// Why an item was lost: the `reason` label of `baker_otel.exporter.dropped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The bounded queue was full (collector slow or down).
    QueueFull,
    /// The export failed or timed out after the exporter's retries.
    ExportFailed,
    /// The collector accepted the request but rejected these items (OTLP partial success).
    Rejected,
    /// Still queued or in flight when the shutdown deadline passed.
    Shutdown,
}

impl DropReason {
    pub(crate) const ALL: [DropReason; 4] = [
        DropReason::QueueFull,
        DropReason::ExportFailed,
        DropReason::Rejected,
        DropReason::Shutdown,
    ];
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::ExportFailed => "export_failed",
            DropReason::Rejected => "rejected",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// Items of one signal dropped so far, by reason.
#[derive(Debug, Default)]
pub(crate) struct Drops([AtomicU64; 4]);

impl Drops {
    /// Adds `n` items lost for `reason` (saturating at `u64::MAX`: a count never wraps, whatever
    /// `n` a collector's answer led to); returns the new total over all reasons.
    pub(crate) fn add(&self, reason: DropReason, n: u64) -> u64 {
        let _ = self.0[reason as usize].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
            Some(c.saturating_add(n))
        });
        self.total()
    }
    pub(crate) fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize].load(Ordering::Relaxed)
    }
    /// The sum over all reasons, saturating at `u64::MAX`.
    pub(crate) fn total(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |t, c| t.saturating_add(c.load(Ordering::Relaxed)))
    }
}

/// Counts telemetry dropped because a queue was full, an export failed, the collector rejected
/// part of a request, or the shutdown deadline passed.
#[derive(Debug, Default)]
pub(crate) struct DropCounters {
    pub(crate) traces: Arc<Drops>,
    pub(crate) logs: Arc<Drops>,
    /// Metric exports lost (each a whole collection): the final one at shutdown, when it fails
    /// or misses the deadline.
    pub(crate) metrics: Arc<Drops>,
}

impl DropCounters {
    pub(crate) fn get(&self, signal: crate::config::Signal) -> u64 {
        match signal {
            crate::config::Signal::Traces => self.traces.total(),
            crate::config::Signal::Logs => self.logs.total(),
            crate::config::Signal::Metrics => self.metrics.total(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DropReason, Drops};

    /// Counts only grow, up to `u64::MAX`: no overflow panic (tests run with overflow checks),
    /// no wrap back to small numbers, in the per-reason counts and in their total.
    #[test]
    fn drop_counters_saturate() {
        let d = Drops::default();
        assert_eq!(d.add(DropReason::Rejected, u64::MAX - 1), u64::MAX - 1);
        assert_eq!(
            d.add(DropReason::QueueFull, 5),
            u64::MAX,
            "the total saturates"
        );
        d.add(DropReason::Rejected, u64::MAX);
        assert_eq!(d.get(DropReason::Rejected), u64::MAX, "a count saturates");
        assert_eq!(d.get(DropReason::QueueFull), 5);
        assert_eq!(d.total(), u64::MAX);
    }
}
