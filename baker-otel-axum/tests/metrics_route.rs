//! `metrics_router` / `metrics_router_at` serve `MetricsHandler::render` as Prometheus text.
use axum::body::Body;
use http::{Request, StatusCode};
use tower::ServiceExt;

fn handler() -> baker_otel::MetricsHandler {
    let registry = prometheus::Registry::new();
    let legacy = prometheus::IntCounter::new("legacy_jobs_total", "jobs").unwrap();
    registry.register(Box::new(legacy.clone())).unwrap();
    legacy.inc_by(7);
    baker_otel::MetricsHandler::new(registry)
}

async fn get(app: axum::Router, path: &str) -> (StatusCode, String, String) {
    let resp = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, ct, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn metrics_router_serves_prometheus_text_at_metrics() {
    let (status, ct, body) = get(baker_otel_axum::metrics_router(&handler()), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, baker_otel::PROMETHEUS_CONTENT_TYPE);
    assert!(ct.starts_with("text/plain"));
    assert!(body.contains("legacy_jobs_total 7"), "{body}");
}

#[tokio::test]
async fn metrics_router_at_serves_only_its_path() {
    let app = baker_otel_axum::metrics_router_at(&handler(), "/internal/metrics");
    let (status, _, body) = get(app.clone(), "/internal/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("legacy_jobs_total 7"), "{body}");
    let (status, _, _) = get(app, "/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
