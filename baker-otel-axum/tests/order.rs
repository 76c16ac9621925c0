//! Layer order: what works where (documented on `OtelLayer`).
mod common;

use axum::routing::get;
use axum::Router;
use common::*;
use opentelemetry::trace::Status;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

#[allow(unreachable_code)]
async fn boom() -> &'static str {
    panic!("handler bug");
    "never"
}

fn routes() -> Router {
    Router::new().route("/panic", get(boom)).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    )
}

async fn get_status(addr: std::net::SocketAddr, p: &str) -> reqwest::Response {
    client()
        .get(format!("http://{addr}{p}"))
        .send()
        .await
        .unwrap()
}

/// OtelLayer innermost: outer layers answer, so no header — but the span still tells the story.
#[tokio::test]
async fn otel_innermost_marks_spans_but_cannot_write_headers() {
    let cap = capture();
    let app = routes()
        .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()))
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(200),
        ));
    let addr = serve(app).await;
    let res = get_status(addr, "/panic").await;
    assert_eq!(res.status(), 500);
    assert!(res.headers().get("x-trace-id").is_none());
    let res = get_status(addr, "/slow").await;
    assert_eq!(res.status(), 408);
    assert!(res.headers().get("x-trace-id").is_none());

    let spans = server_spans(&cap);
    let panic = spans.iter().find(|s| s.name == "GET /panic").unwrap();
    assert_eq!(attr(panic, "error.type").as_deref(), Some("panic"));
    assert!(matches!(panic.status, Status::Error { .. }));
    let slow = spans.iter().find(|s| s.name == "GET /slow").unwrap();
    assert_eq!(attr(slow, "error.type").as_deref(), Some("cancelled"));
    assert_eq!(
        cap.metric_total("http.server.active_requests"),
        Some(0.0),
        "drop guard decrements"
    );
}

/// CatchPanic inside, Timeout outside: panics get the header, timeouts do not.
#[tokio::test]
async fn only_layers_inside_otel_get_the_header() {
    let cap = capture();
    let app = routes()
        .layer(CatchPanicLayer::new())
        .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()))
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(200),
        ));
    let addr = serve(app).await;
    let res = get_status(addr, "/panic").await;
    assert_eq!(res.status(), 500);
    let tid = trace_header(&res);
    assert_eq!(
        attr(&server_span(&cap, &tid), "error.type").as_deref(),
        Some("500")
    );
    let res = get_status(addr, "/slow").await;
    assert_eq!(res.status(), 408);
    assert!(res.headers().get("x-trace-id").is_none());
}

/// The documented order with the layers the other way round inside OtelLayer also works.
#[tokio::test]
async fn otel_outermost_works_with_either_inner_order() {
    let cap = capture();
    let app = routes()
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(200),
        ))
        .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()));
    let addr = serve(app).await;
    for (p, code) in [("/panic", 500), ("/slow", 408)] {
        let res = get_status(addr, p).await;
        assert_eq!(res.status(), code);
        let tid = trace_header(&res);
        assert_eq!(server_span(&cap, &tid).name, format!("GET {p}"));
    }
}

/// `tower::ServiceBuilder` around the whole router: still a header on everything, but no
/// `MatchedPath` is known yet, so span names fall back to `{METHOD}`.
#[tokio::test]
async fn wrapping_the_router_from_outside_falls_back_to_method_names() {
    use tower::Layer;
    let cap = capture();
    let svc = baker_otel_axum::OtelLayer::new(cap.telemetry())
        .layer(routes().layer(CatchPanicLayer::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, tower::make::Shared::new(svc))
            .await
            .unwrap()
    });
    let res = get_status(addr, "/panic").await;
    let tid = trace_header(&res);
    let span = server_span(&cap, &tid);
    assert_eq!(span.name, "GET");
    assert_eq!(attr(&span, "http.route"), None);
}
