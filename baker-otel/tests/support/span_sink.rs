//! A span exporter that keeps every exported span, also across shutdown (the SDK's in-memory
//! exporter clears what it holds on shutdown).

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Sink(pub Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Sink {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// A pipeline whose spans go into a [`Sink`] only (no OTLP, no JSON output, `RUST_LOG=trace`):
/// the hub, its dispatcher (not installed) and the sink. `extra` adds or overrides variables.
#[allow(dead_code)] // not every test file that includes this module builds a pipeline
pub fn pipeline(extra: &[(&str, &str)]) -> (baker_otel::Telemetry, tracing::Dispatch, Sink) {
    pipeline_with(extra, |b| b)
}

/// [`pipeline`], with `edit` applied to the builder (the service's plug-ins, say).
#[allow(dead_code)]
pub fn pipeline_with(
    extra: &[(&str, &str)],
    edit: impl FnOnce(baker_otel::TelemetryBuilder) -> baker_otel::TelemetryBuilder,
) -> (baker_otel::Telemetry, tracing::Dispatch, Sink) {
    let mut env = vec![
        ("OTEL_SERVICE_NAME", "span-sink"),
        ("RUST_LOG", "trace"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ];
    env.extend_from_slice(extra);
    let sink = Sink::default();
    let builder = baker_otel::Telemetry::builder()
        .env_source(baker_otel::config::EnvSource::from_pairs(env))
        .json_sink(baker_otel::JsonSink::Writer(Arc::new(Mutex::new(
            std::io::sink(),
        ))))
        .with_span_exporter(sink.clone());
    let (telemetry, dispatch) = edit(builder).build().expect("valid test configuration");
    (telemetry, dispatch, sink)
}

/// A remote parent with the W3C example ids (trace `4bf92f35…4736`, span `00f067aa0ba902b7`).
#[allow(dead_code)]
pub fn remote_parent(flags: opentelemetry::trace::TraceFlags) -> opentelemetry::trace::SpanContext {
    use opentelemetry::trace::{SpanContext, SpanId, TraceId, TraceState};
    SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        flags,
        true,
        TraceState::default(),
    )
}
