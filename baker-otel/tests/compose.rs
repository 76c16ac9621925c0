//! Composition with real third-party layers, both ways: the service's layers added to
//! baker-otel's subscriber (`TelemetryBuilder::with_layer`, under a scoped `testing::Capture`),
//! and baker-otel's layers put into a subscriber the test builds itself (`build_layers`). Every
//! test is scoped: no global subscriber.
use baker_otel::config::EnvSource;
use baker_otel::testing::Capture;
use baker_otel::{OpenTelemetrySpanExt, Telemetry, TelemetryHandle};
use opentelemetry::trace::{SpanBuilder, TraceContextExt};
use opentelemetry::InstrumentationScope;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

#[path = "support/span_sink.rs"]
mod span_sink;
use span_sink::Sink;

/// A `fmt` writer into shared memory.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A fresh directory under the system temp dir, removed by the test.
fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("baker-otel-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn error_layer_added_to_bakers_subscriber_sees_bakers_spans() {
    let capture = Capture::with_builder(
        Telemetry::builder().with_layer(tracing_error::ErrorLayer::default()),
    );
    let (trace, current_is_capture) = capture.in_scope(|| {
        let outer = tracing::info_span!("load_job", job = 7);
        let _o = outer.enter();
        let inner = tracing::info_span!("parse");
        let _i = inner.enter();
        tracing::info!("parsing");
        let current = TelemetryHandle::current().unwrap();
        (
            tracing_error::SpanTrace::capture().to_string(),
            current.same_hub(capture.telemetry()),
        )
    });
    assert!(
        current_is_capture,
        "TelemetryHandle::current is the capture's hub"
    );
    // The span trace names both baker-otel-instrumented spans, innermost first, with fields.
    let (parse, load) = (
        trace.find("parse").unwrap(),
        trace.find("load_job").unwrap(),
    );
    assert!(parse < load, "{trace}");
    assert!(trace.contains("job=7"), "{trace}");
    // baker-otel's own pipelines still saw the same spans and event.
    let (outer, inner) = (capture.span("load_job"), capture.span("parse"));
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    let line = &capture.json_lines()[0];
    assert_eq!(line["message"], "parsing");
    assert_eq!(line["trace_id"], outer.span_context.trace_id().to_string());
    assert_eq!(capture.logs().len(), 1);
}

#[test]
fn appender_with_its_own_filter_is_independent_of_rust_log() {
    let dir = temp_dir("appender");
    let (writer, flush_guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::never(&dir, "audit.log"));
    let audit = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_filter(Targets::new().with_target("audit", tracing::Level::DEBUG));
    // RUST_LOG says `info`: it decides for baker-otel's layers, not for the file.
    let capture = Capture::with_builder(
        Telemetry::builder()
            .log_filter("info")
            .with_layer(audit)
            .with_layer(tracing_error::ErrorLayer::default()),
    );
    capture.in_scope(|| {
        let span = tracing::info_span!("request", id = 1);
        let _e = span.enter();
        tracing::debug!(target: "audit", user = "ada", "token refreshed");
        tracing::info!(target: "app", "handled");
        tracing::debug!(target: "app", "too verbose for anyone");
    });
    drop(flush_guard); // flushes the non-blocking writer
    let file = std::fs::read_to_string(dir.join("audit.log")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 1, "{file}");
    assert!(lines[0].contains("DEBUG"), "{file}");
    assert!(
        lines[0].contains("audit: token refreshed user=\"ada\""),
        "{file}"
    );
    // Its filter enables only `audit`, so the `request` span is not in its context either.
    assert!(!lines[0].contains("request"), "{file}");

    let messages: Vec<_> = capture
        .json_lines()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        messages,
        ["handled"],
        "RUST_LOG=info still filters baker-otel's lines"
    );
    assert_eq!(capture.logs().len(), 1);
    assert_eq!(capture.spans().len(), 1);
}

#[test]
fn bakers_layers_in_the_services_own_subscriber() {
    let sink = Sink::default();
    let json = Buffer::default();
    let (telemetry, baker) = Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "composed"),
            ("RUST_LOG", "info"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]))
        .json_sink(baker_otel::JsonSink::Writer(Arc::new(Mutex::new(
            json.clone(),
        ))))
        .with_span_exporter(sink.clone())
        .build_layers()
        .unwrap();
    let mine = Buffer::default();
    let writer = mine.clone();
    let subscriber = tracing_subscriber::registry()
        .with(baker)
        .with(tracing_error::ErrorLayer::default())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_filter(Targets::new().with_target("mine", tracing::Level::TRACE)),
        );
    let (trace, span_cx, hub_ok) = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("handle", conversation = "c-1");
        // baker-otel's span extension works in a subscriber it did not build.
        let cx = span.context();
        let _e = span.enter();
        tracing::info!("baker line");
        tracing::trace!(target: "mine", "my verbose line");
        // An integration built from the hub starts a child of the current span.
        let hub = TelemetryHandle::current().unwrap();
        let starter = hub.span_starter(InstrumentationScope::builder("db").build());
        drop(starter.start(
            SpanBuilder::from_name("query"),
            &opentelemetry::Context::current(),
        ));
        (
            tracing_error::SpanTrace::capture().to_string(),
            cx.span().span_context().clone(),
            hub.same_hub(&telemetry),
        )
    });
    assert!(
        hub_ok,
        "TelemetryHandle::current finds the hub through the service's subscriber"
    );
    assert!(trace.contains("handle"), "{trace}");
    telemetry.force_flush().unwrap();
    let spans = sink.0.lock().unwrap().clone();
    let handle = spans.iter().find(|s| s.name == "handle").unwrap();
    let query = spans.iter().find(|s| s.name == "query").unwrap();
    assert_eq!(handle.span_context, span_cx);
    assert_eq!(query.parent_span_id, span_cx.span_id());
    assert_eq!(query.span_context.trace_id(), span_cx.trace_id());

    let json = json.text();
    assert_eq!(
        json.lines().count(),
        1,
        "RUST_LOG=info filters baker-otel only: {json}"
    );
    assert!(json.contains("baker line") && json.contains(&span_cx.trace_id().to_string()));
    let mine = mine.text();
    assert_eq!(mine.lines().count(), 1, "{mine}");
    assert!(mine.contains("my verbose line"), "{mine}");
    telemetry.shutdown().unwrap();
}

#[test]
fn bakers_layers_can_sit_above_the_services_layers() {
    let sink = Sink::default();
    let (telemetry, baker) = Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("RUST_LOG", "trace"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]))
        .json_logs(false)
        .with_span_exporter(sink.clone())
        .build_layers()
        .unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_error::ErrorLayer::default())
        .with(baker);
    let trace = tracing::subscriber::with_default(subscriber, || {
        let _e = tracing::info_span!("outer").entered();
        assert!(TelemetryHandle::current().unwrap().same_hub(&telemetry));
        tracing_error::SpanTrace::capture().to_string()
    });
    assert!(trace.contains("outer"), "{trace}");
    telemetry.force_flush().unwrap();
    assert_eq!(sink.0.lock().unwrap()[0].name, "outer");
}

#[test]
fn build_layers_refuses_layers_added_to_the_builder() {
    let err = Telemetry::builder()
        .env_source(EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")]))
        .with_layer(tracing_error::ErrorLayer::default())
        .build_layers::<tracing_subscriber::Registry>()
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("TelemetryBuilder::with_layer"),
        "{err}"
    );
}

#[test]
fn configuration_warnings_reach_the_services_subscriber() {
    // A batch delay below its floor is raised, with a warning.
    let json = Buffer::default();
    let (telemetry, baker) = Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("RUST_LOG", "info"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_BSP_SCHEDULE_DELAY", "1"),
        ]))
        .json_sink(baker_otel::JsonSink::Writer(Arc::new(Mutex::new(
            json.clone(),
        ))))
        .build_layers()
        .unwrap();
    assert_eq!(
        json.text(),
        "",
        "nothing is logged before the subscriber exists"
    );
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(baker));
    // logged from a short-lived thread once the registration is done (see assemble.rs)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while json.text().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let text = json.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("OTEL_BSP_SCHEDULE_DELAY"), "{text}");
    drop(dispatch);
    telemetry.shutdown().unwrap();
}
