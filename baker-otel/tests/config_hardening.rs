//! Configuration that would hurt the process is tamed: a zero batch delay cannot turn the export
//! workers into a busy loop, and credentials in an endpoint URL are never printed.
use baker_otel::config::{Config, EnvSource, MIN_SCHEDULED_DELAY};
use baker_otel::testing::Capture;
use std::time::Duration;

#[test]
fn a_zero_schedule_delay_is_raised_to_the_floor_with_a_warning() {
    for (name, value) in [
        ("OTEL_BSP_SCHEDULE_DELAY", "0"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "0"),
        ("OTEL_BSP_SCHEDULE_DELAY", "1"),
    ] {
        let b = baker_otel::Telemetry::builder().env_source(EnvSource::from_pairs([(name, value)]));
        let cfg = b.config().unwrap();
        let delay = if name.starts_with("OTEL_BSP") {
            cfg.span_batch.scheduled_delay
        } else {
            cfg.log_batch.scheduled_delay
        };
        assert_eq!(delay, MIN_SCHEDULED_DELAY, "{name}={value}");
    }
    assert_eq!(MIN_SCHEDULED_DELAY, Duration::from_millis(10));

    // Set in code, the same floor.
    let cfg = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([("OTEL_SERVICE_NAME", "floor")]))
        .configure(|c| c.log_batch.scheduled_delay = Duration::ZERO)
        .config()
        .unwrap();
    assert_eq!(cfg.log_batch.scheduled_delay, MIN_SCHEDULED_DELAY);

    // Larger values are kept as they are.
    let cfg = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([("OTEL_BSP_SCHEDULE_DELAY", "250")]))
        .config()
        .unwrap();
    assert_eq!(cfg.span_batch.scheduled_delay, Duration::from_millis(250));

    // The raise is not silent: the service's own log says so, naming the variable.
    let capture = Capture::with_builder(baker_otel::Telemetry::builder().env_source(
        EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "floor"),
            ("OTEL_BSP_SCHEDULE_DELAY", "0"),
        ]),
    ));
    let lines = capture.json_lines();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && l.to_string().contains("OTEL_BSP_SCHEDULE_DELAY")),
        "{lines:?}"
    );
}

const USERINFO: &str = "alice:s3cr3t-pw";

#[test]
fn endpoint_userinfo_is_redacted_in_debug_and_errors() {
    let cfg = Config::from_source(&EnvSource::from_pairs([
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://alice:s3cr3t-pw@collector:4318",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "https://bob:hunter2@logs.example:443/v1/logs",
        ),
    ]))
    .unwrap();
    // The URL itself is kept for the exporter…
    assert!(cfg.traces.endpoint.contains(USERINFO));
    // …but printed without its credentials.
    let debug = format!("{cfg:?} {:#?}", cfg.logs);
    assert!(!debug.contains("s3cr3t-pw"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains("alice"), "{debug}");
    assert!(debug.contains("collector:4318"), "{debug}");
    assert!(debug.contains("logs.example:443/v1/logs"), "{debug}");

    // An invalid endpoint's error names the variable but not the credentials.
    for (name, value) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://alice:s3cr3t-pw@"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "alice:s3cr3t-pw@ bad host",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "http://alice:s3cr3t-pw@[::1",
        ),
    ] {
        let err = Config::from_source(&EnvSource::from_pairs([(name, value)])).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert_eq!(err.name(), name);
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(!shown.contains("alice"), "{shown}");
    }
}
