//! The `/metrics` text (`MetricsHandler::render`, served over HTTP by `baker-otel-axum`) merges
//! OpenTelemetry instruments and a user-supplied `prometheus::Registry`.
use baker_otel::config::EnvSource;

#[test]
fn metrics_endpoint_merges_otel_and_user_registry() {
    let registry = prometheus::Registry::new();
    let legacy = prometheus::IntCounter::new(
        "legacy_jobs_total",
        "jobs counted by an existing prometheus::Registry",
    )
    .unwrap();
    registry.register(Box::new(legacy.clone())).unwrap();
    legacy.inc_by(7);

    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "brain"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ]))
        .prometheus_registry(registry)
        .init()
        .unwrap();
    let meter = opentelemetry::global::meter("brain");
    meter
        .u64_counter("jobs.published")
        .with_description("jobs")
        .build()
        .add(5, &[opentelemetry::KeyValue::new("queue", "jobs")]);
    meter
        .f64_histogram("job.duration")
        .with_unit("s")
        .with_boundaries(vec![0.1, 1.0])
        .build()
        .record(0.5, &[]);

    let body = telemetry
        .metrics_handler()
        .expect("prometheus enabled")
        .render();
    assert!(body.contains("legacy_jobs_total 7"), "{body}");
    assert!(
        body.lines().any(|l| l.starts_with("jobs_published_total{")
            && l.contains("queue=\"jobs\"")
            && l.ends_with(" 5")),
        "{body}"
    );
    assert!(body.contains("job_duration_seconds_bucket{"), "{body}");
    assert!(
        body.contains("target_info{") && body.contains("service_name=\"brain\""),
        "{body}"
    );
    assert!(
        body.contains("baker_otel_exporter_dropped_total{"),
        "{body}"
    );
    assert!(body.contains("process_memory_usage_bytes"), "{body}");
    telemetry.shutdown().unwrap();
}
