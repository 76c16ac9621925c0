//! Property tests on untrusted input: `OTEL_*` environment values, log field values and
//! propagation carriers. None of them may panic; config errors name the offending variable;
//! every JSON log line stays one valid JSON object whatever the field values contain.
use baker_otel::config::{Config, EnvSource};
use baker_otel::JsonSink;
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Every variable the core reads (plus a few per-signal variants).
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
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "BAKER_OTEL_JSON_LOGS",
    "BAKER_OTEL_SHUTDOWN_TIMEOUT",
    "RUST_LOG",
    "K8S_POD_NAME",
    "K8S_NAMESPACE_NAME",
];

/// Values biased towards the interesting: near-valid, numeric edge cases, separators, control
/// characters, non-ASCII and long strings.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "[0-9]{0,25}",
        "-?[0-9]{1,3}(\\.[0-9]{0,4})?([eE][+-]?[0-9]{1,3})?",
        "(true|false|TRUE|1|0|yes|)",
        "(otlp|none|console|prometheus|,| ){0,6}",
        "(grpc|http/protobuf|http/json|gzip|none|x)",
        "([a-z%=, ]|%[0-9A-Fa-f]{0,2}){0,30}",
        "(https?|ftp)?(://)?[a-z0-9.:/\\[\\]@%-]{0,40}",
        "(always_on|always_off|traceidratio|parentbased_always_on|parentbased_traceidratio|parentbased_always_off|jaeger_remote)",
        "(tracecontext|baggage|b3|none|,){0,5}",
        prop::collection::vec(any::<char>(), 0..3000).prop_map(|v| v.into_iter().collect()),
        Just("\u{0}\u{1}\r\n\t\u{7f}\u{202e}".to_owned()),
        Just("9".repeat(400)),
    ]
}

fn env() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((prop::sample::select(VARS), value()), 0..12)
        .prop_map(|v| v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Arbitrary values never panic; an error names a variable that was actually set.
    #[test]
    fn config_never_panics_and_errors_name_the_variable(pairs in env()) {
        let src = EnvSource::from_pairs(pairs.clone());
        if let Err(e) = Config::from_source(&src) {
            let set: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            prop_assert!(set.contains(&e.name()), "error names {:?}, which is not one of the set variables {:?}: {}", e.name(), set, e);
            prop_assert!(e.to_string().contains(e.name()), "message {:?} names the variable", e.to_string());
        }
    }

    /// A single bad variable among good ones is the one reported.
    #[test]
    fn the_bad_variable_is_the_one_reported(var in prop::sample::select(VARS), v in value()) {
        let src = EnvSource::from_pairs([(var, v.as_str())]);
        if let Err(e) = Config::from_source(&src) {
            prop_assert_eq!(e.name(), var);
        }
    }
}

/// Found by `config_never_panics_and_errors_name_the_variable`: the value is truncated to 200
/// bytes, but the `reason` repeats the offending entry unbounded (OTEL_PROPAGATORS,
/// OTEL_*_EXPORTER, OTEL_RESOURCE_ATTRIBUTES / *_HEADERS "entry … is not key=value"), so a 100 kB
/// variable yielded a 100 kB error message in the logs. Fixed by truncating the reason in
/// `ConfigError::invalid`; this is the regression test.
#[test]
fn config_error_messages_are_bounded() {
    let huge = "x".repeat(100_000);
    for var in [
        "OTEL_PROPAGATORS",
        "OTEL_TRACES_EXPORTER",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_EXPORTER_OTLP_HEADERS",
    ] {
        let err =
            Config::from_source(&EnvSource::from_pairs([(var, huge.as_str())])).expect_err(var);
        assert!(
            err.to_string().len() < 2_000,
            "{var}: error message is {} bytes",
            err.to_string().len()
        );
    }
}

struct JsonPipeline {
    lines: Arc<Mutex<Vec<String>>>,
    dispatch: tracing::Dispatch,
    _telemetry: baker_otel::Telemetry,
}

fn json_pipeline() -> &'static JsonPipeline {
    static P: OnceLock<JsonPipeline> = OnceLock::new();
    P.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (telemetry, dispatch) = baker_otel::Telemetry::builder()
            .env_source(EnvSource::from_pairs([
                ("OTEL_SERVICE_NAME", "prop\"\n\u{1}svc"),
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
                ("OTEL_METRICS_EXPORTER", "none"),
                ("RUST_LOG", "trace"),
            ]))
            .json_sink(JsonSink::Memory(lines.clone()))
            .build()
            .expect("json pipeline");
        JsonPipeline {
            lines,
            dispatch,
            _telemetry: telemetry,
        }
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\"\\\\/\u{7f}\u{2028}\u{2029}\u{feff}]{0,40}",
        prop::collection::vec(any::<char>(), 0..200).prop_map(|v| v.into_iter().collect()),
        (0usize..3).prop_map(|k| "é\"\\\n".repeat(10_000 * (k + 1))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the message, string field, span field and baggage ids contain, each event is
    /// written as exactly one line of valid JSON, and short values survive unchanged.
    #[test]
    fn json_log_lines_stay_valid_json(msg in text(), field in text(), span_field in text(), conv in text(), n in any::<i64>(), f in any::<f64>()) {
        let p = json_pipeline();
        let before = p.lines.lock().unwrap().len();
        tracing::dispatcher::with_default(&p.dispatch, || {
            let span = tracing::info_span!("prop", attr = %span_field);
            let _e = span.enter();
            baker_otel::context::BakerScope::current().conversation_id(conv.clone()).job_id(field.clone()).in_scope(|| {
                tracing::info!(field = %field, dbg = ?field, n = n, f = f, "{msg}");
            });
        });
        // Invalid ids are refused with a diagnostic line of their own (baker_otel::internal).
        let lines: Vec<String> = p.lines.lock().unwrap()[before..]
            .iter()
            .filter(|l| !l.contains("\"target\":\"baker_otel::internal\""))
            .cloned()
            .collect();
        prop_assert_eq!(lines.len(), 1, "one event, one line");
        let line = lines[0].trim_end_matches('\n');
        prop_assert!(!line.contains('\n'), "no raw newline inside a line");
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| TestCaseError::fail(format!("invalid JSON ({e}): {line:.300}")))?;
        prop_assert!(v.is_object());
        let m = v["message"].as_str().ok_or_else(|| TestCaseError::fail("message is a string"))?;
        if msg.len() < 1024 {
            prop_assert_eq!(m, msg.as_str());
        } else {
            prop_assert!(m.len() <= 17 * 1024 + 32, "huge message is truncated: {} bytes", m.len());
        }
        if field.len() < 1024 {
            prop_assert_eq!(v["field"].as_str(), Some(field.as_str()));
        }
        prop_assert_eq!(v["n"].as_i64(), Some(n));
        if f.is_finite() {
            prop_assert!(v["f"].is_number(), "finite float is a JSON number: {}", v["f"]);
        }
    }

    /// Extraction from arbitrary carriers never panics (traceparent, tracestate, baggage and noise).
    #[test]
    fn extract_never_panics(carrier in prop::collection::hash_map(
        prop_oneof![Just("traceparent".to_owned()), Just("tracestate".to_owned()), Just("baggage".to_owned()), any::<String>()],
        prop_oneof![
            any::<String>(),
            "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}",
            "[0-9a-fA-F-]{0,60}",
            "([a-z.]{0,10}=[^,;]{0,20}(;[a-z]{0,5})?,?){0,40}",
            prop::collection::vec(any::<char>(), 0..9000).prop_map(|v| v.into_iter().collect()),
        ],
        0..6,
    )) {
        let _ = json_pipeline();
        baker_otel::propagation::install(&[baker_otel::config::PropagatorKind::TraceContext, baker_otel::config::PropagatorKind::Baggage]);
        let carrier: HashMap<String, String> = carrier;
        let cx = baker_otel::propagation::extract(&carrier);
        let _ = baker_otel::context::ids(&cx);
    }
}
