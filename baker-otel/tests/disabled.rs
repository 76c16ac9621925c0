//! `OTEL_SDK_DISABLED=true` exports nothing, yet JSON logs and the application keep working.
mod support;

use baker_otel::config::EnvSource;
use baker_otel::JsonSink;
use std::sync::{Arc, Mutex};

#[test]
fn sdk_disabled_exports_nothing() {
    let rx = support::HttpReceiver::start();
    let json = Arc::new(Mutex::new(Vec::new()));
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", rx.endpoint().as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "10"),
        ]))
        .json_sink(JsonSink::Memory(json.clone()))
        .init()
        .expect("init");
    assert!(telemetry.tracer_provider().is_none());
    {
        let span = tracing::info_span!("work");
        let _e = span.enter();
        tracing::info!("still logged");
    }
    opentelemetry::global::meter("t")
        .u64_counter("c")
        .build()
        .add(1, &[]);
    telemetry.force_flush().unwrap();
    telemetry.shutdown().unwrap();
    // A control request proves the receiver is up; it is the only thing it may have seen.
    let client = std::net::TcpStream::connect(rx.addr);
    assert!(client.is_ok());
    let got = rx.received.lock().unwrap();
    assert!(got.traces.is_empty() && got.logs.is_empty() && got.metrics.is_empty());
    let lines = json.lock().unwrap();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("still logged") && !lines[0].contains("trace_id"));
}
