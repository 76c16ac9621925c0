//! Span handles returned by the macros.

pub(crate) mod agent;
pub(crate) mod llm;
pub(crate) mod memory;
pub(crate) mod tool;

/// Records `error.type` (empty → `_OTHER`) and an ERROR status on `span`; returns the
/// normalised error type for the metrics.
pub(crate) fn record_error<'a>(
    span: &tracing::Span,
    error_type: &'a str,
    description: Option<&str>,
) -> &'a str {
    let t = if error_type.is_empty() {
        crate::usage::OTHER_ERROR
    } else {
        error_type
    };
    span.record("error.type", t);
    span.record("otel.status_code", "ERROR");
    if let Some(d) = description {
        span.record("otel.status_description", d);
    }
    t
}

/// A count as `i64` (saturating): tracing-opentelemetry 0.34 has no `record_u64` and would
/// export `u64` span fields as strings, while the GenAI conventions want integers.
#[inline]
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
