//! `init_layers`: baker-otel's layers in the service's own global subscriber, with the
//! OpenTelemetry globals installed like `init` does. One test: it owns this process's globals.
use baker_otel::config::EnvSource;
use baker_otel::{InitError, Telemetry, TelemetryHandle};
use opentelemetry::trace::{Tracer, TracerProvider as _};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[path = "support/span_sink.rs"]
mod span_sink;
use span_sink::Sink;

fn builder(sink: &Sink) -> baker_otel::TelemetryBuilder {
    Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("RUST_LOG", "info"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]))
        .json_logs(false)
        .with_span_exporter(sink.clone())
}

#[test]
fn init_layers_installs_the_globals_but_not_the_subscriber() {
    let sink = Sink::default();
    let (telemetry, baker) = builder(&sink).init_layers().unwrap();
    assert!(
        TelemetryHandle::current().is_none(),
        "no subscriber installed yet"
    );
    tracing_subscriber::registry()
        .with(baker)
        .with(tracing_error::ErrorLayer::default())
        .init();
    assert!(TelemetryHandle::current().unwrap().same_hub(&telemetry));

    // A `tracing` span and an OpenTelemetry-API span (global tracer provider) nest and export.
    let trace = {
        let _s = tracing::info_span!("tracing_span").entered();
        opentelemetry::global::tracer_provider()
            .tracer("api")
            .in_span("otel_api_span", |_| ());
        tracing_error::SpanTrace::capture().to_string()
    };
    assert!(trace.contains("tracing_span"), "{trace}");
    telemetry.force_flush().unwrap();
    let spans = sink.0.lock().unwrap().clone();
    let outer = spans.iter().find(|s| s.name == "tracing_span").unwrap();
    let api = spans.iter().find(|s| s.name == "otel_api_span").unwrap();
    assert_eq!(api.parent_span_id, outer.span_context.span_id());
    assert!(opentelemetry::global::get_text_map_propagator(|p| p
        .fields()
        .count()
        > 0));

    // Once per process, like `init`.
    let again = builder(&Sink::default()).init_layers::<tracing_subscriber::Registry>();
    assert!(matches!(again, Err(InitError::AlreadyInitialized)));
    telemetry.shutdown().unwrap();
}
