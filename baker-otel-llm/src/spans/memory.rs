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

use super::handle::{sealed, SpanHandle};
use crate::content::ContentKind;
use crate::semconv as sc;
use crate::telemetry::shared;
use opentelemetry::{KeyValue, StringValue};

/// A memory store operation in progress, created by [`memory_span!`](crate::memory_span).
/// Dropping it ends the span and records `baker.memory.operation.duration`.
///
/// ```
/// use baker_otel_llm::memory_span;
/// let m = memory_span!(search, "notes");
/// m.record_query_text("tea preferences"); // dropped unless content capture allows input
/// m.record_result_count(3);
/// m.end();
/// ```
pub type MemorySpan = SpanHandle<Memory>;

/// The kind of a [`MemorySpan`]: the store and the operation, for the duration metric.
///
/// ```
/// let m: baker_otel_llm::SpanHandle<baker_otel_llm::kind::Memory> =
///     baker_otel_llm::memory_span!(delete, "notes");
/// m.record_record_id("note-42");
/// ```
pub struct Memory {
    store: StringValue,
    op: &'static str,
}

impl sealed::Kind for Memory {
    const NAME: &'static str = "MemorySpan";
    const ERROR_CONTENT: ContentKind = ContentKind::Output;

    fn end(h: &SpanHandle<Self>, elapsed: f64, error: Option<String>) {
        let bounded = h.shared.label_values.stores.get(h.kind.store.as_str());
        let store = KeyValue::new(sc::BAKER_MEMORY_STORE, StringValue::from(bounded));
        let op = KeyValue::new(sc::BAKER_MEMORY_OPERATION, h.kind.op);
        let histogram = &h.shared.instruments.memory_duration;
        super::record_duration(histogram, elapsed, [store, op], error);
    }

    fn debug_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>) {
        d.field("store", &self.store.as_str()).field("op", &self.op);
    }
}

impl SpanHandle<Memory> {
    pub(crate) fn start(span: tracing::Span, store: StringValue, op: &'static str) -> Self {
        Self::new(span, shared(), Memory { store, op })
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
}
