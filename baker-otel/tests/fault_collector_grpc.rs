//! Faults over OTLP/gRPC (what deploy/ uses): UNAVAILABLE and RESOURCE_EXHAUSTED with and without
//! RetryInfo, partial success (and a collector claiming more rejections than it was sent), a
//! stalled receiver, and requests over the receiver's message limit.
//! The application never blocks, memory stays bounded, and every span is either accepted by the
//! receiver or counted in `baker_otel.exporter.dropped` (by reason).
#[path = "support/faulty_grpc.rs"]
mod faulty_grpc;

use baker_otel::config::{EnvSource, Signal};
use faulty_grpc::{Fault, FaultyGrpcCollector};
use std::time::Duration;

fn telemetry(
    collector: &FaultyGrpcCollector,
    extra: &[(&str, &str)],
) -> (baker_otel::Telemetry, tracing::Dispatch) {
    let mut pairs: Vec<(String, String)> = [
        ("OTEL_SERVICE_NAME", "fault-grpc"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "5000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("BAKER_OTEL_JSON_LOGS", "false"),
        ("BAKER_OTEL_SHUTDOWN_TIMEOUT", "3000"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    pairs.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), collector.endpoint()));
    baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs(pairs))
        .build()
        .expect("build")
}

fn emit(dispatch: &tracing::Dispatch, prefix: &str, n: usize, attr_bytes: usize) {
    let payload = "p".repeat(attr_bytes);
    tracing::dispatcher::with_default(dispatch, || {
        for i in 0..n {
            tracing::info_span!("op", otel.name = format!("{prefix}-{i}"), payload = %payload)
                .in_scope(|| {});
        }
    });
}

/// `baker_otel_exporter_dropped_total{reason, signal="traces"}` from the Prometheus text.
fn dropped_by(t: &baker_otel::Telemetry, reason: &str) -> u64 {
    let text = t.metrics_handler().expect("prometheus").render();
    text.lines()
        .filter(|l| l.starts_with("baker_otel_exporter_dropped_total"))
        .filter(|l| l.contains(&format!("reason=\"{reason}\"")) && l.contains("signal=\"traces\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[test]
fn grpc_faults_are_retried_honouring_retry_info_or_counted_by_reason() {
    let collector = FaultyGrpcCollector::start(
        [
            Fault::Unavailable(None),
            Fault::Unavailable(Some(Duration::from_millis(300))),
            Fault::ResourceExhausted(None),
            Fault::ResourceExhausted(Some(Duration::from_millis(200))),
            Fault::PartialSuccess(3),
            Fault::Stall(Duration::from_secs(5)),
        ],
        4 << 20,
    );
    let (t, d) = telemetry(&collector, &[]);
    let mut created = 0;
    for round in 0..40 {
        emit(&d, &format!("r{round}"), 10, 16);
        created += 10;
        let _ = t.force_flush();
        if collector.script_left() == 0 {
            break;
        }
    }
    assert_eq!(collector.script_left(), 0, "every fault was served");
    // After the faults, spans flow again.
    emit(&d, "after", 10, 16);
    created += 10;
    t.force_flush().expect("flush");
    collector.wait_for("the spans sent after the faults", |s| {
        (0..10).all(|i| s.spans.contains(&format!("after-{i}")))
    });

    let accepted = collector.accepted() as u64;
    let dropped = t.dropped(Signal::Traces);
    assert_eq!(
        accepted + dropped,
        created as u64,
        "every span is accepted or counted (accepted {accepted}, dropped {dropped})"
    );
    assert_eq!(collector.rejected(), 3);
    assert_eq!(
        dropped_by(&t, "rejected"),
        3,
        "partial success is counted as rejected"
    );
    assert!(
        dropped_by(&t, "export_failed") > 0,
        "RESOURCE_EXHAUSTED without RetryInfo is not retried: its batch is counted"
    );
    assert_eq!(dropped_by(&t, "queue_full"), 0);
    let requests = collector.state.lock().unwrap().requests.clone();
    let retried_after = |f: Fault| {
        requests
            .iter()
            .position(|r| *r == Some(f))
            .is_some_and(|i| i + 1 < requests.len())
    };
    assert!(retried_after(Fault::Unavailable(None)));
    assert!(retried_after(Fault::ResourceExhausted(Some(
        Duration::from_millis(200)
    ))));
    t.shutdown().expect("shutdown");
}

#[test]
fn requests_over_the_receivers_message_limit_are_split_and_an_oversized_span_is_counted() {
    // The receiver refuses requests over 64 KiB ("message too large"); the byte cap keeps every
    // request under it, so 400 KiB of spans arrive whole, in several requests.
    let collector = FaultyGrpcCollector::start([], 64 * 1024);
    let (t, d) = telemetry(
        &collector,
        &[
            ("BAKER_OTEL_EXPORT_MAX_BYTES", "49152"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1048576"),
        ],
    );
    emit(&d, "big", 200, 2048);
    t.force_flush().expect("flush");
    collector.wait_for("all 200 spans", |s| s.spans.len() == 200);
    assert!(
        collector.state.lock().unwrap().requests.len() >= 9,
        "the batch was split across requests"
    );
    assert_eq!(t.dropped(Signal::Traces), 0, "split, not dropped");

    // One span that alone exceeds the receiver's limit cannot be split: it is counted.
    emit(&d, "huge", 1, 100 * 1024);
    let _ = t.force_flush();
    emit(&d, "small", 5, 16);
    t.force_flush().expect("flush");
    collector.wait_for("the spans after the oversized one", |s| {
        s.spans.iter().filter(|n| n.starts_with("small-")).count() == 5
    });
    assert_eq!(t.dropped(Signal::Traces), 1);
    assert_eq!(dropped_by(&t, "export_failed"), 1);
    t.shutdown().expect("shutdown");
}

/// Resident set size from `/proc/self/statm` (Linux; 0 elsewhere).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[test]
fn a_stalled_receiver_never_blocks_the_app_and_memory_stays_bounded() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 25_000;
    let collector = FaultyGrpcCollector::start(
        std::iter::repeat_n(Fault::Stall(Duration::from_secs(60)), 10_000),
        4 << 20,
    );
    let (t, d) = telemetry(
        &collector,
        &[
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "200"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "500"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "1024"),
        ],
    );
    let before = rss();
    let workers: Vec<_> = (0..THREADS)
        .map(|n| {
            let d = d.clone();
            std::thread::spawn(move || emit(&d, &format!("t{n}"), PER_THREAD, 1024))
        })
        .collect();
    for w in workers {
        w.join().expect("app thread completed");
    }
    let grown = rss().saturating_sub(before);
    // 100 000 spans of > 1 KiB each would hold > 100 MiB if anything kept them all.
    assert!(
        grown < 64 << 20,
        "memory stays bounded by the queue: grew {} MiB",
        grown >> 20
    );
    assert!(
        dropped_by(&t, "queue_full") > 0,
        "a full queue drops, never blocks"
    );
    let _ = t.shutdown();
    assert_eq!(collector.accepted(), 0);
    assert_eq!(
        t.dropped(Signal::Traces),
        (THREADS * PER_THREAD) as u64,
        "every span is counted"
    );
}

#[test]
fn grpc_log_records_rejected_by_a_partial_success_are_counted() {
    let collector = FaultyGrpcCollector::start_rejecting_logs([], 4 << 20, 2);
    let (t, d) = telemetry(
        &collector,
        &[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ],
    );
    tracing::dispatcher::with_default(&d, || {
        for i in 0..6 {
            tracing::info!(target: "app", i, "record");
        }
    });
    t.force_flush().expect("flush");
    let (logs, rejected) = {
        let s = collector.state.lock().unwrap();
        (s.logs, s.rejected_logs)
    };
    assert_eq!(logs + rejected, 6, "every record reached the receiver");
    assert!(rejected >= 2);
    assert_eq!(
        t.dropped(Signal::Logs),
        rejected as u64,
        "rejected records are counted"
    );
    let text = t.metrics_handler().expect("prometheus").render();
    assert!(
        text.lines()
            .any(|l| l.starts_with("baker_otel_exporter_dropped_total")
                && l.contains("reason=\"rejected\"")
                && l.contains("signal=\"logs\"")
                && l.ends_with(&format!(" {rejected}"))),
        "{text}"
    );
    t.shutdown().expect("shutdown");
}

/// A collector answering a partial success that claims `i64::MAX` rejected spans and log records
/// (OTLP's int64 maximum) to each of two requests: the counters take the items each request
/// held, never panic (tests run with overflow checks) and never wrap.
#[test]
fn a_collector_cannot_claim_more_rejections_than_it_was_sent() {
    let collector = FaultyGrpcCollector::start([Fault::Claim(i64::MAX); 2], 4 << 20);
    collector.state.lock().unwrap().claim_logs = Some(i64::MAX);
    let (t, d) = telemetry(&collector, &[("OTEL_LOGS_EXPORTER", "otlp")]);
    for round in 0..2 {
        emit(&d, &format!("r{round}"), 5, 16);
        tracing::dispatcher::with_default(&d, || {
            for i in 0..3 {
                tracing::info!(target: "app", i, "record");
            }
        });
        t.force_flush().expect("flush");
    }
    assert_eq!(collector.script_left(), 0, "both claims were served");
    assert_eq!(collector.state.lock().unwrap().logs, 6);
    assert_eq!(t.dropped(Signal::Traces), 10, "the 10 spans sent");
    assert_eq!(t.dropped(Signal::Logs), 6, "the 6 records sent");
    assert_eq!(dropped_by(&t, "rejected"), 10);
    t.shutdown().expect("shutdown");
}
