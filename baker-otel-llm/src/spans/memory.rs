//! [`MemorySpan`]: agent memory store operations, per the GenAI memory conventions of
//! `open-telemetry/semantic-conventions-genai`: span `{gen_ai.operation.name} {store}` (CLIENT)
//! with `gen_ai.operation.name` (`search_memory`, `create_memory`, `update_memory`,
//! `upsert_memory`, `delete_memory`), `gen_ai.memory.store.id`, `gen_ai.memory.record.count`,
//! `gen_ai.memory.record.id` when known, and — only when content capture allows it — the query
//! text (`gen_ai.memory.query.text`, [`ContentKind::Input`]) and the records
//! (`gen_ai.memory.records`, [`ContentKind::Output`]).
//!
//! The `baker.memory.operation.duration` metric keeps its labels `baker.memory.store` and
//! `baker.memory.operation` (`search`, `insert`, `update`, `upsert`, `delete`): the recording
//! rules and the memory-utilization dashboard query them, and a metric of our own namespace keeps
//! our own labels.

use super::outcome::{DynReports, Outcome};
use crate::content::ContentKind;
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
/// m.record_query_text("tea preferences"); // dropped unless content capture allows input
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
    /// Records how many records were found / written / deleted (`gen_ai.memory.record.count`).
    pub fn record_result_count(&self, n: u64) {
        self.span
            .record(sc::GEN_AI_MEMORY_RECORD_COUNT, crate::spans::int(n));
    }
    /// Records the id of the record read / written / deleted (`gen_ai.memory.record.id`), for
    /// operations on a single record.
    ///
    /// ```
    /// let m = baker_otel_llm::memory_span!(update, "notes");
    /// m.record_record_id("note-42");
    /// ```
    pub fn record_record_id(&self, id: &str) {
        self.span.record(sc::GEN_AI_MEMORY_RECORD_ID, id);
    }
    /// Records the search query (`gen_ai.memory.query.text`) when the content-capture policy
    /// allows input content ([`ContentKind::Input`]); redacted and truncated like messages.
    /// Without capture this does nothing.
    ///
    /// ```
    /// let m = baker_otel_llm::memory_span!(search, "notes");
    /// m.record_query_text("what does the user like?");
    /// ```
    pub fn record_query_text(&self, query: &str) {
        if let Some(v) = self.shared.capture.prepare(ContentKind::Input, query) {
            self.span.record(sc::GEN_AI_MEMORY_QUERY_TEXT, v.as_str());
        }
    }
    /// Records the records returned or written (`gen_ai.memory.records`, a JSON string) when the
    /// content-capture policy allows output content ([`ContentKind::Output`]). Without capture
    /// this does nothing.
    ///
    /// ```
    /// let m = baker_otel_llm::memory_span!(search, "notes");
    /// m.record_records(r#"[{"id":"note-1","content":"likes tea"}]"#);
    /// ```
    pub fn record_records(&self, records_json: &str) {
        if let Some(v) = self
            .shared
            .capture
            .prepare(ContentKind::Output, records_json)
        {
            self.span.record(sc::GEN_AI_MEMORY_RECORDS, v.as_str());
        }
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
        let t = super::record_error(
            &self.span,
            &self.shared,
            ContentKind::Output,
            error_type,
            description.as_deref(),
        );
        if let Ok(mut e) = self.error.lock() {
            *e = Some(t.to_string());
        }
    }
}

impl Drop for MemorySpan {
    fn drop(&mut self) {
        let d = self.start.elapsed().as_secs_f64();
        let bounded = self.shared.label_values.stores.get(self.store.as_str());
        let store = KeyValue::new(sc::BAKER_MEMORY_STORE, StringValue::from(bounded));
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
