//! OTLP over gRPC to a real receiver (fake-opentelemetry-collector), inside a tokio runtime.
use baker_otel::config::EnvSource;
use baker_otel::context::BakerScope;
use baker_otel::OpenTelemetrySpanExt;
use fake_opentelemetry_collector::FakeCollectorServer;
use opentelemetry::trace::TraceContextExt;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_spans_and_correlated_logs_over_grpc() {
    let mut collector = FakeCollectorServer::start().await.expect("collector");
    let endpoint = collector.endpoint();
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "worker"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
        ]))
        .init()
        .expect("init");

    let work = async {
        let span = tracing::info_span!("process jobs", otel.kind = "consumer");
        let cx = span.context();
        let trace_id = cx.span().span_context().trace_id().to_string();
        let span_id = cx.span().span_context().span_id().to_string();
        BakerScope::from_context(cx)
            .conversation_id("c-grpc")
            .job_id("j-grpc")
            .instrument(async {
                let inner = tracing::info_span!("tool call");
                let _g = inner.enter();
                tracing::warn!(attempt = 2, "tool retried");
            })
            .await;
        drop(span);
        (trace_id, span_id)
    };
    let (trace_id, span_id) = work.await;

    let spans = collector.exported_spans(2, Duration::from_secs(20)).await;
    let logs = collector.exported_logs(1, Duration::from_secs(20)).await;
    let outer = spans
        .iter()
        .find(|s| s.name == "process jobs")
        .expect("outer span");
    let inner = spans
        .iter()
        .find(|s| s.name == "tool call")
        .expect("inner span");
    assert_eq!(outer.trace_id, trace_id);
    assert_eq!(outer.span_id, span_id);
    assert_eq!(outer.kind, "SPAN_KIND_CONSUMER");
    assert_eq!(inner.trace_id, trace_id);
    assert_eq!(inner.parent_span_id, span_id);
    // The fake collector renders values as `Some(AnyValue { value: Some(StringValue("…")) })`.
    let has = |m: &std::collections::BTreeMap<String, String>, k: &str, v: &str| {
        m.get(k)
            .is_some_and(|x| x.contains(&format!("StringValue(\"{v}\")")))
    };
    assert!(
        has(&inner.attributes, "gen_ai.conversation.id", "c-grpc"),
        "{:?}",
        inner.attributes
    );
    assert!(
        has(&inner.attributes, "baker.job.id", "j-grpc"),
        "{:?}",
        inner.attributes
    );

    let log = logs
        .iter()
        .find(|l| {
            l.attributes
                .get("attempt")
                .is_some_and(|v| v.contains("IntValue(2)"))
        })
        .expect("log record");
    assert_eq!(log.trace_id, trace_id);
    assert_eq!(log.span_id, inner.span_id);
    assert_eq!(log.severity_text, "WARN");
    assert!(
        has(&log.attributes, "conversation_id", "c-grpc"),
        "{:?}",
        log.attributes
    );
    assert_eq!(telemetry.dropped(baker_otel::Signal::Traces), 0);
    telemetry.shutdown().expect("shutdown inside the runtime");
}
