//! `OTEL_*` environment parsing on arbitrary bytes: never panics; an error names a variable that
//! was set. Input format: records separated by `\n`, each `<var index byte><value bytes>`.
#![no_main]
use baker_otel::config::{Config, EnvSource};
use libfuzzer_sys::fuzz_target;

const VARS: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_PROPAGATORS",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_BLRP_EXPORT_TIMEOUT",
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "BAKER_OTEL_JSON_LOGS",
    "BAKER_OTEL_SHUTDOWN_TIMEOUT",
    "RUST_LOG",
];

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = data
        .split(|b| *b == b'\n')
        .filter_map(|rec| {
            let (&idx, value) = rec.split_first()?;
            let var = VARS[idx as usize % VARS.len()];
            Some((var.to_owned(), String::from_utf8_lossy(value).into_owned()))
        })
        .collect();
    let src = EnvSource::from_pairs(pairs.clone());
    if let Err(e) = Config::from_source(&src) {
        assert!(
            pairs.iter().any(|(k, _)| k == e.name()),
            "error names an unset variable: {e}"
        );
    }
});
