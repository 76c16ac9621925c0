//! Shutdown from inside a tokio runtime with the collector unreachable.
use baker_otel::config::EnvSource;
use std::time::{Duration, Instant};

#[tokio::test]
async fn shutdown_inside_runtime_respects_deadline() {
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
        ]))
        .shutdown_timeout(Duration::from_millis(1000))
        .init()
        .unwrap();
    for _ in 0..1000 {
        tracing::info_span!("s").in_scope(|| tracing::info!("event"));
    }
    tokio::task::yield_now().await;
    let start = Instant::now();
    let _ = telemetry.shutdown();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    drop(telemetry); // drop after shutdown: no second flush, no panic
}
