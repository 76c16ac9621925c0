//! OTLP over HTTP/protobuf to a real receiver, from a thread with no async runtime.
mod support;

use baker_otel::config::EnvSource;
use baker_otel::context::BakerScope;
use baker_otel::JsonSink;
use baker_otel::OpenTelemetrySpanExt;
use opentelemetry::trace::TraceContextExt;
use std::sync::{Arc, Mutex};
use support::{attr, hex, HttpReceiver};

#[test]
fn exports_traces_logs_and_metrics_over_http() {
    let rx = HttpReceiver::start();
    let json = Arc::new(Mutex::new(Vec::new()));
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "brain"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", rx.endpoint().as_str()),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=test",
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("K8S_POD_NAME", "brain-7d9f"),
            ("K8S_NAMESPACE_NAME", "baker"),
        ]))
        .service_version("9.9.9")
        .json_sink(JsonSink::Memory(json.clone()))
        .init()
        .expect("init");

    let (trace_id, child_span_id) = {
        let root = tracing::info_span!("handle_request");
        let _e = root.enter();
        BakerScope::current()
            .conversation_id("conv-1")
            .job_id("job-1")
            .in_scope(|| {
                let child = tracing::info_span!("run_job", attempt = 1);
                let _c = child.enter();
                tracing::info!(tokens = 42, "job finished");
                let sc = child.context().span().span_context().clone();
                (sc.trace_id().to_string(), sc.span_id().to_string())
            })
    };
    let counter = opentelemetry::global::meter("test")
        .u64_counter("jobs.done")
        .build();
    counter.add(3, &[]);
    telemetry.shutdown().expect("clean shutdown");

    rx.wait_for("spans", |r| {
        r.traces
            .iter()
            .map(|t| t.resource_spans.len())
            .sum::<usize>()
            > 0
    });
    rx.wait_for("logs", |r| !r.logs.is_empty());
    rx.wait_for("metrics", |r| !r.metrics.is_empty());
    let got = rx.received.lock().unwrap();

    let rs = &got.traces[0].resource_spans[0];
    let res = &rs.resource.as_ref().unwrap().attributes;
    assert_eq!(attr(res, "service.name").as_deref(), Some("brain"));
    assert_eq!(attr(res, "service.version").as_deref(), Some("9.9.9"));
    assert_eq!(
        attr(res, "deployment.environment.name").as_deref(),
        Some("test")
    );
    assert_eq!(attr(res, "k8s.pod.name").as_deref(), Some("brain-7d9f"));
    assert_eq!(attr(res, "k8s.namespace.name").as_deref(), Some("baker"));
    assert_eq!(attr(res, "telemetry.sdk.language").as_deref(), Some("rust"));

    let spans = got.spans();
    let child = spans
        .iter()
        .find(|s| s.name == "run_job")
        .expect("child span exported");
    let root = spans
        .iter()
        .find(|s| s.name == "handle_request")
        .expect("root span exported");
    assert_eq!(hex(&child.trace_id), trace_id);
    assert_eq!(hex(&child.span_id), child_span_id);
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(
        attr(&child.attributes, "gen_ai.conversation.id").as_deref(),
        Some("conv-1")
    );
    assert_eq!(
        attr(&child.attributes, "baker.job.id").as_deref(),
        Some("job-1")
    );
    assert_eq!(attr(&child.attributes, "attempt").as_deref(), Some("1"));
    assert!(
        child.events.is_empty(),
        "log events are exported as log records, not duplicated as span events"
    );

    let logs: Vec<_> = got
        .logs
        .iter()
        .flat_map(|l| &l.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .collect();
    let rec = logs
        .iter()
        .find(|l| attr(&l.attributes, "tokens").as_deref() == Some("42"))
        .expect("log record exported");
    assert_eq!(hex(&rec.trace_id), trace_id);
    assert_eq!(hex(&rec.span_id), child_span_id);
    assert_eq!(
        attr(&rec.attributes, "conversation_id").as_deref(),
        Some("conv-1")
    );
    assert_eq!(attr(&rec.attributes, "job_id").as_deref(), Some("job-1"));
    assert_eq!(
        logs.len(),
        1,
        "exactly one log record: exporter internals never feed back"
    );

    let names: Vec<String> = got
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| m.name.clone())
        .collect();
    assert!(names.iter().any(|n| n == "jobs.done"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "baker_otel.exporter.dropped"),
        "{names:?}"
    );

    let lines = json.lock().unwrap();
    let line: serde_json::Value =
        serde_json::from_str(lines.iter().find(|l| l.contains("job finished")).unwrap()).unwrap();
    assert_eq!(line["trace_id"], trace_id);
    assert_eq!(line["span_id"], child_span_id);
    assert_eq!(line["conversation_id"], "conv-1");
    assert_eq!(line["job_id"], "job-1");
    assert_eq!(line["service.name"], "brain");
    assert_eq!(line["tokens"], 42);
    assert_eq!(line["level"], "INFO");
    assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
}

/// The trace exporter's own request: gzip when configured, protobuf content type, the configured
/// headers, spans with their status, events and links as the receiver decodes them.
#[test]
fn spans_over_http_are_gzipped_and_carry_the_configured_headers() {
    let rx = HttpReceiver::start();
    // Built, not installed: the other test of this binary installs the global one.
    let (telemetry, dispatch) = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "worker"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", rx.endpoint().as_str()),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "x-api-key=k-123,X-Tenant=blue",
            ),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
        ]))
        .build()
        .expect("build");
    let linked = tracing::dispatcher::with_default(&dispatch, || {
        let first = tracing::info_span!("first");
        first.context().span().span_context().clone()
    });
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!(
            "call",
            otel.kind = "client",
            otel.status_code = "error",
            otel.status_description = "rate limited",
            model = "gpt-4o",
            tokens = 12_u64,
        );
        span.add_link(linked.clone());
        span.add_event(
            "retrying",
            vec![opentelemetry::KeyValue::new("after_ms", 200)],
        );
    });
    telemetry.shutdown().expect("clean shutdown");
    rx.wait_for("both spans", |r| r.spans().len() == 2);
    let got = rx.received.lock().unwrap();
    for h in &got.trace_headers {
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["content-encoding"], "gzip");
        assert_eq!(h["x-api-key"], "k-123");
        assert_eq!(h["x-tenant"], "blue");
    }
    let rs = &got.traces[0].resource_spans[0];
    assert_eq!(
        attr(&rs.resource.as_ref().unwrap().attributes, "service.name").as_deref(),
        Some("worker")
    );
    let spans = got.spans();
    let call = spans.iter().find(|s| s.name == "call").expect("call span");
    assert_eq!(call.kind, 3, "SPAN_KIND_CLIENT");
    let status = call.status.as_ref().expect("status");
    assert_eq!((status.code, status.message.as_str()), (2, "rate limited"));
    assert_eq!(attr(&call.attributes, "model").as_deref(), Some("gpt-4o"));
    assert_eq!(attr(&call.attributes, "tokens").as_deref(), Some("12"));
    assert_eq!(call.events.len(), 1);
    assert_eq!(call.events[0].name, "retrying");
    assert_eq!(
        attr(&call.events[0].attributes, "after_ms").as_deref(),
        Some("200")
    );
    assert_eq!(call.links.len(), 1);
    assert_eq!(hex(&call.links[0].span_id), linked.span_id().to_string());
    assert_eq!(call.flags & 0x300, 0x100, "parent known to be local");
    assert!(call.start_time_unix_nano > 0 && call.end_time_unix_nano >= call.start_time_unix_nano);
}
