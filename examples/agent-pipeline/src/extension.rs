//! A tiny extension server (order lookups) that the Worker runs in-process and calls over HTTP,
//! so that outbound HTTP propagation shows up in the trace.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

/// The extension's router, traced by `baker_otel_axum::OtelLayer`.
///
/// ```
/// let capture = baker_otel::testing::Capture::new();
/// let _app: axum::Router = agent_pipeline::extension::router(capture.telemetry());
/// ```
pub fn router(telemetry: &baker_otel::TelemetryHandle) -> Router {
    Router::new()
        .route("/extensions/order_lookup", post(order_lookup))
        .layer(baker_otel_axum::OtelLayer::new(telemetry))
}

async fn order_lookup(body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": "invalid JSON" })),
        )
            .into_response();
    };
    let customer = v
        .get("customer")
        .and_then(|c| c.as_str())
        .unwrap_or("unknown");
    tracing::info!(customer, "order lookup");
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    let open_orders = customer.bytes().map(u64::from).sum::<u64>() % 4 + 1;
    axum::Json(serde_json::json!({ "customer": customer, "open_orders": open_orders, "next_delivery": "Thursday" })).into_response()
}

/// Serves the extension on `127.0.0.1:<free port>`; returns its base URL.
pub async fn spawn(telemetry: &baker_otel::TelemetryHandle) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = router(telemetry);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(exception.message = %e, "extension server stopped");
        }
    });
    Ok(format!("http://{addr}"))
}
