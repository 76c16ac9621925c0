//! Exported spans' allocations, handed back to the threads that create spans.
//!
//! glibc's allocator keeps freed memory in the freeing thread's cache. Spans are allocated on
//! application threads and freed on the export thread, so without recycling every new span's
//! box and attribute vector come from malloc's slow path (what that costs per span is in the
//! core bench's docs). Once an OTLP exporter has encoded a batch it returns the spans here,
//! cleared (their values are freed on the export thread), and the span layer takes them for new
//! spans. Exporters that take spans by value (the SDK's `SpanExporter`) get them moved out of
//! their boxes, and the empty boxes come back.
//!
//! Bounded: at most [`CAPACITY`] spans wait here, none holding a vector for more than
//! [`MAX_KEPT_ATTRIBUTES`] attributes (the rest are freed as before): about 1.1 MiB at most
//! (512 × (352 B of `SpanData` + 32 × 56 B of attributes)). One pool for the process, shared by
//! every hub: what it holds is blank memory, no span data (a span taken from it gets its own
//! scope, see `SpanRecord::starting`).

use crossbeam_queue::ArrayQueue;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::SystemTime;

/// Spans kept for reuse: one default export batch.
pub(crate) const CAPACITY: usize = 512;
/// A span whose attribute vector grew beyond this is freed rather than kept.
pub(crate) const MAX_KEPT_ATTRIBUTES: usize = 32;

static POOL: LazyLock<ArrayQueue<Box<SpanData>>> = LazyLock::new(|| ArrayQueue::new(CAPACITY));

/// A blank span allocation (every field as [`blank`] has it, an empty attribute vector with
/// capacity, the scope of the span it last held), if one is waiting.
#[inline]
pub(crate) fn take() -> Option<Box<SpanData>> {
    POOL.pop()
}

/// `span` in a recycled box when one is waiting (its attribute vector is replaced by the span's
/// own), else in a new one.
#[inline]
pub(crate) fn boxed(span: SpanData) -> Box<SpanData> {
    match take() {
        Some(mut b) => {
            *b = span;
            b
        }
        None => Box::new(span),
    }
}

/// A span with nothing in it but `scope`, allocating nothing: ids invalid, kind internal,
/// times at the epoch, no name, attributes, events or links, status unset.
pub(crate) fn blank(attributes: Vec<KeyValue>, scope: InstrumentationScope) -> SpanData {
    SpanData {
        span_context: SpanContext::empty_context(),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed(""),
        start_time: SystemTime::UNIX_EPOCH,
        end_time: SystemTime::UNIX_EPOCH,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope,
    }
}

/// Moves the span out of `b` (for exporters that take `SpanData` by value), leaving it blank
/// with an attribute vector for as many attributes, allocated here: on the export thread, whose
/// allocator cache holds the memory of the spans it frees.
pub(crate) fn take_out(b: &mut SpanData) -> SpanData {
    let attributes = Vec::with_capacity(b.attributes.len().min(MAX_KEPT_ATTRIBUTES));
    std::mem::replace(b, blank(attributes, InstrumentationScope::default()))
}

/// Blanks exported spans (freeing their values here) and keeps them for reuse, up to the bound.
#[allow(clippy::vec_box)] // the boxes are what is kept
pub(crate) fn give_back(spans: Vec<Box<SpanData>>) {
    for s in spans {
        if !give_back_one(s) {
            return;
        }
    }
}

/// Blanks `s` and keeps it for reuse; `false` when the pool is full (`s` is freed).
#[inline]
pub(crate) fn give_back_one(mut s: Box<SpanData>) -> bool {
    if POOL.is_full() {
        return false;
    }
    if s.attributes.capacity() <= MAX_KEPT_ATTRIBUTES {
        let mut attributes = std::mem::take(&mut s.attributes);
        attributes.clear();
        // The scope stays: the next span on this allocation is most likely of the same scope
        // (`SpanRecord::starting` then keeps it instead of dropping and cloning it again).
        let scope = std::mem::take(&mut s.instrumentation_scope);
        *s = blank(attributes, scope);
        let _ = POOL.push(s);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(attrs: usize) -> Box<SpanData> {
        Box::new(SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Owned("owned".into()),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes: (0..attrs).map(|i| KeyValue::new("k", i as i64)).collect(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::error("x"),
            instrumentation_scope: InstrumentationScope::builder("s").build(),
        })
    }

    #[test]
    fn spans_come_back_cleared_and_the_pool_stays_bounded() {
        // The pool is process-wide: other tests may use it concurrently, so only what holds
        // regardless is asserted.
        give_back((0..CAPACITY + 10).map(|_| span(4)).collect());
        give_back(vec![span(MAX_KEPT_ATTRIBUTES + 1)]);
        assert!(POOL.len() <= CAPACITY);
        let mut seen = 0;
        while let Some(s) = take() {
            assert!(s.attributes.is_empty());
            assert!(s.attributes.capacity() <= MAX_KEPT_ATTRIBUTES);
            // The scope of the span it last held stays (`SpanRecord::starting` keeps or
            // replaces it).
            let mut expected = blank(Vec::new(), s.instrumentation_scope.clone());
            expected.attributes = s.attributes.clone();
            assert_eq!(*s, expected);
            seen += 1;
        }
        assert!(seen > 0);
    }
}
