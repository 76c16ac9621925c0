//! The server span is the current OpenTelemetry context inside handlers (it is an SDK span,
//! not a `tracing` span): attributes, BakerScope ids, child spans and log lines all see it.
mod common;

use axum::routing::get;
use axum::Router;
use baker_otel::context::BakerScope;
use baker_otel::testing::Capture;
use common::*;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::KeyValue;

async fn work() -> &'static str {
    tokio::task::yield_now().await; // the context is re-attached on every poll
    opentelemetry::Context::current()
        .span()
        .set_attribute(KeyValue::new("app.tenant", "acme"));
    {
        let child = tracing::info_span!("child work");
        let _e = child.enter();
        tracing::info!("in child");
    }
    tokio::task::yield_now().await;
    BakerScope::current()
        .conversation_id("conv-7")
        .job_id("job-3")
        .in_scope(|| tracing::info!("scoped"));
    "ok"
}

#[tokio::test]
async fn handlers_run_inside_the_server_span_context() {
    let cap = capture();
    let app = Router::new()
        .route("/work", get(work))
        .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()));
    let addr = serve(app).await;
    let res = client()
        .get(format!("http://{addr}/work"))
        .send()
        .await
        .unwrap();
    let tid = trace_header(&res);
    let server = server_span(&cap, &tid);
    let sid = server.span_context.span_id();
    assert_eq!(attr(&server, "app.tenant").as_deref(), Some("acme"));
    assert_eq!(
        attr(&server, "gen_ai.conversation.id").as_deref(),
        Some("conv-7"),
        "BakerScope records the ids on the server span"
    );
    assert_eq!(attr(&server, "baker.job.id").as_deref(), Some("job-3"));

    let child = cap.span("child work");
    assert_eq!(child.span_context.trace_id().to_string(), tid);
    assert_eq!(child.parent_span_id, sid, "tracing child of the SDK span");
    assert_eq!(child.span_kind, SpanKind::Internal);

    let lines = cap.json_lines();
    let line = |msg: &str| {
        lines
            .iter()
            .find(|l| l["message"] == msg)
            .unwrap_or_else(|| panic!("no line {msg}: {lines:?}"))
            .clone()
    };
    let scoped = line("scoped");
    assert_eq!(scoped["trace_id"], tid);
    assert_eq!(scoped["span_id"], sid.to_string());
    assert_eq!(scoped["conversation_id"], "conv-7");
    assert_eq!(scoped["job_id"], "job-3");
    let in_child = line("in child");
    assert_eq!(in_child["trace_id"], tid);
    assert_eq!(
        in_child["span_id"],
        child.span_context.span_id().to_string()
    );

    let logs = cap.logs();
    let otlp = logs
        .iter()
        .find(|l| {
            l.record
                .body()
                .is_some_and(|b| format!("{b:?}").contains("scoped"))
        })
        .expect("OTLP log record");
    let tc = otlp.record.trace_context().expect("trace context");
    assert_eq!(tc.trace_id.to_string(), tid);
    assert_eq!(tc.span_id, sid);
}

/// Captures are scoped: two tests' servers, running at the same time on two threads of one
/// process, each see only their own requests (spans and metrics).
#[test]
fn parallel_captures_see_only_their_own_requests() {
    let run = |path: &'static str, n: usize| {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let cap = capture();
            rt.block_on(async {
                let app = Router::new()
                    .route(path, get(|| async { "ok" }))
                    .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()));
                let addr = serve(app).await;
                for _ in 0..n {
                    let res = client()
                        .get(format!("http://{addr}{path}"))
                        .send()
                        .await
                        .unwrap();
                    server_span(&cap, &trace_header(&res));
                }
            });
            let names: Vec<String> = server_spans(&cap)
                .iter()
                .map(|s| s.name.to_string())
                .collect();
            (names, cap.histogram_count("http.server.request.duration"))
        })
    };
    let (a, b) = (run("/a", 3), run("/b", 5));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!(a.0, vec!["GET /a"; 3]);
    assert_eq!(a.1, Some(3));
    assert_eq!(b.0, vec!["GET /b"; 5]);
    assert_eq!(b.1, Some(5));
}

/// `RUST_LOG` still controls the server span: filtered out, no span is made, yet the incoming
/// trace id is echoed and the incoming context is current in the handler.
#[tokio::test]
async fn filtered_server_span_still_continues_the_trace() {
    let cap = scoped(Capture::with_builder(
        baker_otel::Telemetry::builder().log_filter("trace,baker_otel_axum::server=off"),
    ));
    let app = Router::new()
        .route(
            "/x",
            get(|| async {
                let _e = tracing::info_span!("inner").entered();
                "x"
            }),
        )
        .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()));
    let addr = serve(app).await;
    let res = client()
        .get(format!("http://{addr}/x"))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(trace_header(&res), "0af7651916cd43dd8448eb211c80319c");
    assert!(server_spans(&cap).is_empty());
    let inner = cap.span("inner");
    assert_eq!(
        inner.span_context.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(inner.parent_span_id.to_string(), "b7ad6b7169203331");
    assert_eq!(cap.histogram_count("http.server.request.duration"), Some(1));
}
