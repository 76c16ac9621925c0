//! Init/shutdown lifecycle with the collector unreachable, outside any async runtime.
use baker_otel::config::EnvSource;
use std::time::{Duration, Instant};

#[test]
fn unreachable_collector_never_hangs_and_misuse_is_typed() {
    // Port 1 on loopback: connection refused (nothing listens there).
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
        ]))
        .shutdown_timeout(Duration::from_millis(1500))
        .init()
        .expect("init succeeds even though nothing listens");

    for i in 0..5_000 {
        let s = tracing::info_span!("hot", i);
        let _e = s.enter();
    }
    // A second init is a typed error, not a panic.
    assert!(matches!(
        baker_otel::init(),
        Err(baker_otel::InitError::AlreadyInitialized)
    ));

    let start = Instant::now();
    let _ = telemetry.shutdown();
    let took = start.elapsed();
    // Generous bound: proves it never hangs; the precise figure is in the benchmark report.
    assert!(
        took < Duration::from_millis(1500) + Duration::from_secs(2),
        "shutdown took {took:?}"
    );
    assert!(
        telemetry.dropped(baker_otel::Signal::Traces) > 0,
        "drops are counted"
    );
    assert!(telemetry.shutdown().is_ok(), "second shutdown is a no-op");
    // Use after shutdown: spans and logs are simply discarded.
    let s = tracing::info_span!("after");
    drop(s.enter());
    tracing::info!("after shutdown");
    drop(telemetry);
}
