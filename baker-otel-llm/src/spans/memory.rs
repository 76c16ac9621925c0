//! [`MemorySpan`]: agent memory store operations (`search_memory {store}`, `update_memory {store}`,
//! `delete_memory {store}`).
//!
//! Upstream drafts use `gen_ai.memory.*`; until those settle we emit `baker.memory.store`,
//! `baker.memory.operation` (`search`, `insert`, `update`, `delete`) and
//! `baker.memory.result.count`, and the `baker.memory.operation.duration` metric.

use crate::__private::{DynReports, Outcome};
use crate::semconv as sc;
use crate::telemetry::{shared, Shared};
use opentelemetry::{KeyValue, StringValue};
use std::sync::Mutex;
use std::time::Instant;

/// A memory store operation in progress, created by [`memory_span!`](crate::memory_span).
///
/// ```
/// use baker_otel_llm::memory_span;
/// let m = memory_span!(search, "notes");
/// m.record_result_count(3);
/// m.end();
/// ```
pub struct MemorySpan {
    span: tracing::Span,
    shared: std::sync::Arc<Shared>,
    start: Instant,
    store: StringValue,
    op: &'static str,
    error: Mutex<Option<String>>,
}

impl std::fmt::Debug for MemorySpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySpan")
            .field("store", &self.store.as_str())
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

impl MemorySpan {
    pub(crate) fn start(span: tracing::Span, store: StringValue, op: &'static str) -> Self {
        Self {
            span,
            shared: shared(),
            start: Instant::now(),
            store,
            op,
            error: Mutex::new(None),
        }
    }
    /// The `tracing` span.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }
    /// Runs `f` inside the span.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.span.in_scope(f)
    }
    /// Instruments a future with the span.
    pub fn instrument<F: std::future::Future>(
        &self,
        fut: F,
    ) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(fut, self.span.clone())
    }
    /// Records how many records were found / written / deleted.
    pub fn record_result_count(&self, n: u64) {
        self.span
            .record(sc::BAKER_MEMORY_RESULT_COUNT, crate::spans::int(n));
    }
    /// Marks the operation failed.
    pub fn record_error(&self, error_type: &str) {
        self.fail(error_type, None);
    }
    /// Ends the span now.
    pub fn end(self) {}
}

impl Outcome for MemorySpan {
    fn report(&self, _r: &dyn DynReports) {}
    fn fail(&self, error_type: &str, description: Option<String>) {
        let t = super::record_error(&self.span, error_type, description.as_deref());
        if let Ok(mut e) = self.error.lock() {
            *e = Some(t.to_owned());
        }
    }
}

impl Drop for MemorySpan {
    fn drop(&mut self) {
        let d = self.start.elapsed().as_secs_f64();
        let store = KeyValue::new(sc::BAKER_MEMORY_STORE, self.store.clone());
        let op = KeyValue::new(sc::BAKER_MEMORY_OPERATION, self.op);
        match self.error.lock().ok().and_then(|mut e| e.take()) {
            None => self
                .shared
                .instruments
                .memory_duration
                .record(d, &[store, op]),
            Some(e) => self
                .shared
                .instruments
                .memory_duration
                .record(d, &[store, op, KeyValue::new(sc::ERROR_TYPE, e)]),
        }
    }
}
