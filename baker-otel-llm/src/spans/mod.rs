//! Span handles returned by the macros.

pub(crate) mod agent;
pub(crate) mod llm;
pub(crate) mod memory;
pub(crate) mod tool;

/// Records `error.type` and an ERROR status on `span`.
pub(crate) fn record_error(span: &tracing::Span, error_type: &str, description: Option<&str>) {
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
}
