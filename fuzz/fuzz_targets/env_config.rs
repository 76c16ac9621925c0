//! `OTEL_*` / `BAKER_*` environment parsing on arbitrary values: the core configuration
//! (`Config::from_source`, every variable it reads) and the LLM content-capture switches
//! (`CapturePolicy::from_env`, `OTEL_SEMCONV_STABILITY_OPT_IN`).
//!
//! Input: records separated by `\n`, each `<byte><value bytes>`; the byte's low 7 bits pick the
//! variable, its high bit plants a secret: the endpoint's `user:password@`, or a header value of
//! `OTEL_EXPORTER_OTLP_*HEADERS`. The TLS file variables name paths under a directory that does
//! not exist (the parser's checks run; no file is read).
//!
//! Invariants, besides "no panic, bounded time":
//! - an error names a variable that was set;
//! - secrets stay out of `Debug` output and errors: the same input with two different planted
//!   secrets (same length and kind) gives the same `Debug` and `Display` text;
//! - a captured value stays within the configured `max_bytes` plus the truncation marker.
#![no_main]
use baker_otel::config::{Config, EnvSource};
use baker_otel_llm::content::{CapturePolicy, ContentKind};
use baker_otel_llm::semconv::SemconvMode;
use libfuzzer_sys::fuzz_target;

const SIGNALS: [&str; 3] = ["TRACES", "METRICS", "LOGS"];
const OTLP_SUFFIXES: [&str; 9] = [
    "ENDPOINT",
    "PROTOCOL",
    "HEADERS",
    "TIMEOUT",
    "COMPRESSION",
    "INSECURE",
    "CERTIFICATE",
    "CLIENT_CERTIFICATE",
    "CLIENT_KEY",
];
const OTHER_VARS: &[&str] = &[
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
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "BAKER_OTEL_EXPORT_MAX_BYTES",
    "BAKER_OTEL_JSON_LOGS",
    "BAKER_OTEL_SHUTDOWN_TIMEOUT",
    "RUST_LOG",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "BAKER_LLM_CAPTURE",
    "BAKER_LLM_CAPTURE_MAX_BYTES",
    "OTEL_SEMCONV_STABILITY_OPT_IN",
];

/// Two secrets of the same length and alphabet: whichever is planted, the output must match.
const SECRETS: [&str; 2] = ["s3cr3tAAAAAAAAAA", "s3cr3tBBBBBBBBBB"];

fn vars() -> &'static [String] {
    static VARS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    VARS.get_or_init(|| {
        let mut v: Vec<String> = OTHER_VARS.iter().map(|s| s.to_string()).collect();
        for suffix in OTLP_SUFFIXES {
            v.push(format!("OTEL_EXPORTER_OTLP_{suffix}"));
            for signal in SIGNALS {
                v.push(format!("OTEL_EXPORTER_OTLP_{signal}_{suffix}"));
            }
        }
        v
    })
}

/// The variables and values of `data`, with `secret` planted where asked.
fn pairs(data: &[u8], secret: &str) -> Vec<(String, String)> {
    let vars = vars();
    data.split(|b| *b == b'\n')
        .filter_map(|rec| {
            let (&idx, value) = rec.split_first()?;
            let var = &vars[usize::from(idx & 0x7f) % vars.len()];
            let mut value = String::from_utf8_lossy(value).into_owned();
            if var.ends_with("CERTIFICATE") || var.ends_with("CLIENT_KEY") {
                value = format!("/nonexistent-baker-otel-fuzz/{}", value.replace('/', "_"));
            } else if idx & 0x80 != 0 && var.ends_with("_ENDPOINT") {
                value = format!("http://user:{secret}@{value}");
            } else if idx & 0x80 != 0 && var.ends_with("_HEADERS") {
                value = format!("authorization={secret}{value}");
            }
            Some((var.clone(), value))
        })
        .collect()
}

/// What a configuration shows: its `Debug` output, or the error's `Display` and `Debug`.
fn shown(pairs: &[(String, String)]) -> String {
    match Config::from_source(&EnvSource::from_pairs(pairs.to_vec())) {
        Ok(cfg) => format!("{cfg:?}"),
        Err(e) => {
            assert!(
                pairs.iter().any(|(k, _)| k == e.name()),
                "error names an unset variable: {e}"
            );
            format!("{e} {e:?}")
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let a = pairs(data, SECRETS[0]);
    let shown_a = shown(&a);
    if data
        .split(|b| *b == b'\n')
        .any(|r| r.first().is_some_and(|b| b & 0x80 != 0))
    {
        let shown_b = shown(&pairs(data, SECRETS[1]));
        assert_eq!(shown_a, shown_b, "a planted secret changes what is shown");
    }

    let env = EnvSource::from_pairs(a);
    let policy = CapturePolicy::from_env(&env);
    let _ = format!("{policy:?}");
    if let Some(v) = env.get("OTEL_SEMCONV_STABILITY_OPT_IN") {
        let _ = SemconvMode::from_opt_in(&v);
    }
    let text = "my password=hunter2 and the rest of a longer message that may be cut";
    if let Some(out) = policy.prepare(ContentKind::Input, text) {
        assert!(!out.contains("hunter2"), "{out}");
        let max = env
            .get("BAKER_LLM_CAPTURE_MAX_BYTES")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(CapturePolicy::DEFAULT_MAX_BYTES);
        assert!(out.len() <= max.saturating_add(40), "max {max}: {out}");
    }
});
