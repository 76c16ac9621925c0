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
pub(crate) mod runtime;
pub(crate) mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts telemetry dropped because a queue was full or an export failed.
#[derive(Debug, Default)]
pub(crate) struct DropCounters {
    pub(crate) traces: Arc<AtomicU64>,
    pub(crate) logs: Arc<AtomicU64>,
}

impl DropCounters {
    pub(crate) fn get(&self, signal: crate::config::Signal) -> u64 {
        match signal {
            crate::config::Signal::Traces => self.traces.load(Ordering::Relaxed),
            crate::config::Signal::Logs => self.logs.load(Ordering::Relaxed),
            crate::config::Signal::Metrics => 0,
        }
    }
}

/// What a test capture puts in place of the configured exporters (in-memory sinks).
#[cfg(feature = "testing")]
pub(crate) struct Overrides {
    pub(crate) spans: Box<dyn batch::BatchExporter<opentelemetry_sdk::trace::SpanData>>,
    pub(crate) logs: Box<dyn batch::BatchExporter<build::LogItem>>,
    pub(crate) metrics: crate::metrics::ExtraReader,
}
