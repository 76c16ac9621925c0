//! Invariants every extract path keeps, shared by the `http_extract` and `nats_extract` targets.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context;

/// Trace and span id, flags and tracestate; `is_remote` differs between the sides compared.
pub fn same_span(a: &SpanContext, b: &SpanContext) -> bool {
    a.trace_id() == b.trace_id()
        && a.span_id() == b.span_id()
        && a.trace_flags() == b.trace_flags()
        && a.trace_state().header() == b.trace_state().header()
}

/// An extracted context: at most 32 tracestate members, a tracestate of at most `max_state`
/// bytes (never longer than its header), at most 64 baggage entries.
pub fn check_extracted(cx: &Context, max_state: usize) {
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        let ts = sc.trace_state().header();
        let members = if ts.is_empty() {
            0
        } else {
            ts.split(',').count()
        };
        assert!(members <= 32, "{members} tracestate members");
        assert!(
            ts.len() <= max_state,
            "tracestate of {} bytes, at most {max_state} allowed",
            ts.len()
        );
    }
    assert!(
        cx.baggage().len() <= 64,
        "{} baggage entries",
        cx.baggage().len()
    );
}
