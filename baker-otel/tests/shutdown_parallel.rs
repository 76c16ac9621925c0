//! Shutdown flushes the three signals in parallel under one deadline: a trace collector that
//! accepts a request and never answers cannot cost the queued log records, and the final metric
//! export it swallows is counted as lost.
#[path = "support/faulty.rs"]
mod faulty;
mod support;

use baker_otel::config::{EnvSource, Signal};
use faulty::{Fault, FaultyCollector};
use std::time::{Duration, Instant};
use support::HttpReceiver;

const DEADLINE: Duration = Duration::from_secs(3);

#[test]
fn a_stuck_trace_export_costs_no_logs_and_the_lost_metric_export_is_counted() {
    // Traces and metrics: a receiver that reads every request and then says nothing for a minute.
    let stuck = FaultyCollector::start(std::iter::repeat_n(
        Fault::Stall(Duration::from_secs(60)),
        64,
    ));
    // Logs: a healthy receiver.
    let healthy = HttpReceiver::start();
    let traces = format!("{}/v1/traces", stuck.endpoint());
    let metrics = format!("{}/v1/metrics", stuck.endpoint());
    let logs = format!("{}/v1/logs", healthy.endpoint());
    let deadline_ms = DEADLINE.as_millis().to_string();
    let (telemetry, dispatch) = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "shutdown-parallel"),
            ("RUST_LOG", "info"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.as_str()),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics.as_str()),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs.as_str()),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
            // Every export may take far longer than the shutdown deadline.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "30000"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "30000"),
            ("OTEL_BLRP_EXPORT_TIMEOUT", "30000"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "30000"),
            // Spans go out at once; logs and metrics wait for shutdown.
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "600000"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "600000"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
            ("BAKER_OTEL_SHUTDOWN_TIMEOUT", deadline_ms.as_str()),
        ]))
        .build()
        .expect("build");

    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("stuck-span").in_scope(|| {});
    });
    // The trace worker is now inside an export that will not finish before the deadline.
    stuck.wait_for("the trace export", |s| !s.requests.is_empty());
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..10 {
            tracing::info!(i, "queued log record");
        }
    });

    let started = Instant::now();
    let result = telemetry.shutdown();
    let took = started.elapsed();
    assert!(
        took <= DEADLINE + Duration::from_secs(2),
        "shutdown took {took:?} with a {DEADLINE:?} deadline ({result:?})"
    );

    let received = healthy
        .received
        .lock()
        .unwrap()
        .logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .filter(|l| {
            l.body
                .as_ref()
                .is_some_and(|b| format!("{b:?}").contains("queued log record"))
        })
        .count();
    assert_eq!(
        received,
        10,
        "every queued log record reached the healthy receiver ({result:?}, dropped logs {})",
        telemetry.dropped(Signal::Logs)
    );
    assert_eq!(telemetry.dropped(Signal::Logs), 0);
    // The span stuck in its export is counted as lost, and so is the final metric export.
    assert!(telemetry.dropped(Signal::Traces) >= 1);
    assert!(
        telemetry.dropped(Signal::Metrics) >= 1,
        "the final metric export, swallowed by the stuck receiver, is counted"
    );
    assert!(result.is_err(), "a shutdown that lost data says so");
}
