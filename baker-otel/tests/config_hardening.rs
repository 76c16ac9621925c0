//! Configuration that would hurt the process is tamed: credentials in an endpoint URL are never
//! printed.
use baker_otel::config::{Config, EnvSource};

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
