//! Collector slow / failing, then recovering: 503 + Retry-After, a stall longer than the export
//! timeout, a connection reset — after recovery new spans flow again, and every span is either
//! received by the collector or counted in the drop counter (nothing vanishes silently).
#[path = "support/faulty.rs"]
mod faulty;

use baker_otel::config::{EnvSource, Signal};
use faulty::{Fault, FaultyCollector};
use std::time::Duration;

fn emit(prefix: &str, n: usize) {
    for i in 0..n {
        let span = tracing::info_span!("op", otel.name = format!("{prefix}-{i}"));
        span.in_scope(|| {});
    }
}

#[test]
fn spans_flow_again_after_503_stall_and_reset_and_losses_are_counted() {
    let collector = FaultyCollector::start([
        Fault::Unavailable {
            retry_after_secs: 1,
        },
        Fault::Stall(Duration::from_secs(5)),
        Fault::Reset,
    ]);
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "fault-flaky"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint().as_str()),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1500"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
            ("BAKER_OTEL_SHUTDOWN_TIMEOUT", "10000"),
        ]))
        .init()
        .expect("init");

    // Keep sending small batches until the collector has served all three faults.
    let mut created = 0usize;
    for round in 0..30 {
        emit(&format!("before{round}"), 10);
        created += 10;
        let _ = telemetry.force_flush();
        if collector.faults_served() >= 3 {
            break;
        }
    }
    assert_eq!(
        collector.faults_served(),
        3,
        "the collector served 503, stall and reset"
    );
    assert!(
        telemetry.dropped(Signal::Traces) >= 1,
        "a batch that outlived the export timeout is counted as dropped"
    );

    // Recovered: new spans arrive.
    emit("after", 25);
    created += 25;
    let _ = telemetry.force_flush();
    collector.wait_for("the post-recovery spans", |s| {
        s.spans.iter().filter(|n| n.starts_with("after-")).count() == 25
    });

    telemetry
        .shutdown()
        .expect("clean shutdown once the collector is healthy");
    let received = collector.accepted_spans();
    let dropped = telemetry.dropped(Signal::Traces) as usize;
    assert_eq!(
        received + dropped,
        created,
        "every span is received or counted as dropped (received {received}, dropped {dropped})"
    );
    let names = collector.state.lock().unwrap().spans.clone();
    let mut dedup = names.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len(), "no span delivered twice");
}
