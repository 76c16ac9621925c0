//! Span handles returned by the macros: one [`SpanHandle`](handle::SpanHandle) per kind.

pub(crate) mod agent;
pub(crate) mod handle;
pub(crate) mod llm;
pub(crate) mod memory;
pub(crate) mod outcome;
pub(crate) mod tool;

/// Records `error.type` and an ERROR status on `span`; returns the error type for the metrics.
///
/// The type is normalised to a short token (free text and empty → `_OTHER`) and bounded per
/// hub (see [`baker_otel::cardinality`]). The description (the error's text) is recorded only
/// when the content policy captures `kind`, redacted like content: with capture off, the
/// error type alone.
pub(crate) fn record_error(
    span: &tracing::Span,
    shared: &crate::telemetry::Shared,
    kind: crate::content::ContentKind,
    error_type: &str,
    description: Option<&str>,
) -> std::sync::Arc<str> {
    let t = shared
        .error_types
        .get(baker_otel::cardinality::error_type(error_type));
    span.record("error.type", &*t);
    span.record("otel.status_code", "ERROR");
    if let Some(d) = description.and_then(|d| shared.capture.error_description(kind, d)) {
        span.record("otel.status_description", d.as_str());
    }
    t
}

/// Records a duration histogram with `labels`, plus `error.type` when the call failed.
pub(crate) fn record_duration<const N: usize>(
    histogram: &opentelemetry::metrics::Histogram<f64>,
    seconds: f64,
    labels: [opentelemetry::KeyValue; N],
    error: Option<String>,
) {
    match error {
        None => histogram.record(seconds, &labels),
        Some(e) => {
            let mut all = Vec::with_capacity(N + 1);
            all.extend(labels);
            all.push(opentelemetry::KeyValue::new(crate::semconv::ERROR_TYPE, e));
            histogram.record(seconds, &all);
        }
    }
}

/// A count as `i64` (saturating): OTLP has no unsigned integer type and the GenAI conventions
/// want integers.
#[inline]
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
