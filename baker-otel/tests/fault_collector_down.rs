//! Collector down under load: several threads create spans while the OTLP endpoint refuses
//! connections. The threads complete (the hot path never blocks on export), every span is
//! counted as dropped, and shutdown returns.
use baker_otel::config::{EnvSource, Signal};
use std::time::{Duration, Instant};

const THREADS: usize = 4;
const PER_THREAD: usize = 25_000;

#[test]
fn app_threads_complete_drops_are_counted_and_shutdown_returns() {
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "fault-down"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "200"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "300"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "1024"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
            ("BAKER_OTEL_SHUTDOWN_TIMEOUT", "3000"),
        ]))
        .init()
        .expect("init");

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let span = tracing::info_span!("handle", thread = t, i = i);
                    span.in_scope(|| std::hint::black_box(i));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("app thread completed without panicking");
    }

    let started = Instant::now();
    let result = telemetry.shutdown();
    let took = started.elapsed();
    // Hang guard only (the figure is reported by `scripts/fault-report`): deadline 3 s.
    assert!(
        took < Duration::from_secs(30),
        "shutdown returned after {took:?}: {result:?}"
    );
    assert_eq!(
        telemetry.dropped(Signal::Traces),
        (THREADS * PER_THREAD) as u64,
        "with no collector every span is dropped and counted"
    );
}
