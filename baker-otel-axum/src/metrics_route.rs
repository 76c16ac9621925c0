//! `GET /metrics` for axum: serves [`MetricsHandler::render`] in the Prometheus text format.
//!
//! The handler itself lives in the core (`baker_otel::MetricsHandler`, which has no HTTP
//! dependency); this module is the axum side of it.

use baker_otel::{MetricsHandler, PROMETHEUS_CONTENT_TYPE};

/// An axum router with `GET /metrics` serving `handler`'s Prometheus text.
///
/// ```
/// let handler = baker_otel::MetricsHandler::new(Default::default());
/// let app: axum::Router = axum::Router::new()
///     .route("/v1/chat", axum::routing::post(|| async { "ok" }))
///     .merge(baker_otel_axum::metrics_router(&handler)); // GET /metrics
/// # let _ = app;
/// ```
///
/// With [`baker_otel::init`], take the handler from the guard:
/// `telemetry.metrics_handler()` is `Some` when `prometheus` is among the metrics exporters
/// (`OTEL_METRICS_EXPORTER=otlp,prometheus`).
pub fn metrics_router<S: Clone + Send + Sync + 'static>(
    handler: &MetricsHandler,
) -> axum::Router<S> {
    metrics_router_at(handler, "/metrics")
}

/// An axum router serving `handler`'s Prometheus text at `path`.
///
/// ```
/// let handler = baker_otel::MetricsHandler::new(Default::default());
/// let app: axum::Router = baker_otel_axum::metrics_router_at(&handler, "/internal/metrics");
/// # let _ = app;
/// ```
pub fn metrics_router_at<S: Clone + Send + Sync + 'static>(
    handler: &MetricsHandler,
    path: &str,
) -> axum::Router<S> {
    let handler = handler.clone();
    axum::Router::new().route(
        path,
        axum::routing::get(move || {
            let handler = handler.clone();
            async move {
                (
                    [(http::header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
                    handler.render(),
                )
            }
        }),
    )
}

/// Serves `GET /metrics` on its own address until the future is dropped (or binding fails).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let telemetry = baker_otel::init()?;
/// if let Some(handler) = telemetry.metrics_handler() {
///     tokio::spawn(baker_otel_axum::serve_metrics(
///         handler.clone(),
///         "127.0.0.1:9464".parse()?,
///     ));
/// }
/// # Ok(()) }
/// ```
pub async fn serve_metrics(
    handler: MetricsHandler,
    addr: std::net::SocketAddr,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, metrics_router::<()>(&handler)).await
}
