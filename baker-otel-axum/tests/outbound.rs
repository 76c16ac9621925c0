//! Outbound propagation: server A calls server B through `OtelClientLayer`; one trace.
mod common;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::*;
use opentelemetry::trace::SpanKind;
use std::net::SocketAddr;
use tower::{Service, ServiceBuilder, ServiceExt};

/// A real HTTP client as a `Service<http::Request<String>>` (reqwest underneath).
fn http_service(
    client: reqwest::Client,
) -> impl Service<
    http::Request<String>,
    Response = http::Response<reqwest::Body>,
    Error = reqwest::Error,
    Future: Send,
> + Clone {
    tower::service_fn(move |req: http::Request<String>| {
        let client = client.clone();
        async move {
            let req = reqwest::Request::try_from(req)?;
            let res = client.execute(req).await?;
            Ok(http::Response::from(res))
        }
    })
}

async fn call_downstream(
    State((b, layer)): State<(SocketAddr, baker_otel_axum::OtelClientLayer)>,
) -> String {
    let mut svc = ServiceBuilder::new()
        .layer(layer)
        .service(http_service(client()));
    let req = http::Request::get(format!("http://{b}/leaf?api_key=secret"))
        .body(String::new())
        .unwrap();
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    res.status().to_string()
}

#[tokio::test]
async fn client_layer_keeps_one_trace_across_two_servers() {
    let cap = capture();
    let b = serve(
        Router::new()
            .route("/leaf", get(|| async { "leaf" }))
            .layer(baker_otel_axum::OtelLayer::new(cap.telemetry())),
    )
    .await;
    let a = serve(
        Router::new()
            .route("/root", get(call_downstream))
            .with_state((b, baker_otel_axum::OtelClientLayer::new(cap.telemetry())))
            .layer(baker_otel_axum::OtelLayer::new(cap.telemetry())),
    )
    .await;

    let res = client()
        .get(format!("http://{a}/root"))
        .send()
        .await
        .unwrap();
    let tid = trace_header(&res);
    assert_eq!(res.text().await.unwrap(), "200 OK");

    let spans = cap.spans();
    let in_trace: Vec<_> = spans
        .iter()
        .filter(|s| s.span_context.trace_id().to_string() == tid)
        .collect();
    assert_eq!(
        in_trace.len(),
        3,
        "{:?}",
        spans
            .iter()
            .map(|s| (&s.name, s.span_kind.clone()))
            .collect::<Vec<_>>()
    );
    let root = in_trace.iter().find(|s| s.name == "GET /root").unwrap();
    let client_span = in_trace
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    let leaf = in_trace.iter().find(|s| s.name == "GET /leaf").unwrap();
    assert_eq!(client_span.name, "GET");
    assert_eq!(
        client_span.parent_span_id,
        root.span_context.span_id(),
        "CLIENT is a child of A's SERVER span"
    );
    assert_eq!(
        leaf.parent_span_id,
        client_span.span_context.span_id(),
        "B's SERVER span continues the CLIENT span"
    );
    assert!(leaf.parent_span_is_remote);
    assert_eq!(
        attr(client_span, "url.full").as_deref(),
        Some(format!("http://{b}/leaf").as_str()),
        "no query secrets"
    );
    assert_eq!(
        attr(client_span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(client_span, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attr(client_span, "http.request.method").as_deref(),
        Some("GET")
    );
}

#[tokio::test]
async fn client_layer_marks_errors() {
    let cap = capture();
    let b = serve(Router::new().layer(baker_otel_axum::OtelLayer::new(cap.telemetry()))).await;
    let mut svc = ServiceBuilder::new()
        .layer(baker_otel_axum::OtelClientLayer::new(cap.telemetry()))
        .service(http_service(client()));
    let req = http::Request::post(format!("http://{b}/absent"))
        .body(String::new())
        .unwrap();
    assert_eq!(
        svc.ready().await.unwrap().call(req).await.unwrap().status(),
        404
    );
    // Closed port: transport error.
    let req = http::Request::get("http://127.0.0.1:1/")
        .body(String::new())
        .unwrap();
    assert!(svc.ready().await.unwrap().call(req).await.is_err());
    let clients: Vec<_> = cap
        .spans()
        .into_iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 2);
    assert_eq!(attr(&clients[0], "error.type").as_deref(), Some("404"));
    assert_eq!(
        attr(&clients[1], "error.type").as_deref(),
        Some("reqwest::error::Error")
    );
}

#[cfg(feature = "reqwest")]
#[tokio::test]
async fn reqwest_send_injects_and_makes_a_client_span() {
    use tracing::Instrument;
    let cap = capture();
    let b = serve(
        Router::new()
            .route("/leaf", get(|| async { "leaf" }))
            .layer(baker_otel_axum::OtelLayer::new(cap.telemetry())),
    )
    .await;
    let parent = tracing::info_span!("caller");
    let traced = baker_otel_axum::OtelClientLayer::new(cap.telemetry());
    let res = traced
        .send(client().get(format!("http://{b}/leaf?token=x")))
        .instrument(parent)
        .await
        .unwrap();
    let tid = trace_header(&res);
    let leaf = server_span(&cap, &tid);
    let client_span = cap
        .spans()
        .into_iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    assert_eq!(leaf.parent_span_id, client_span.span_context.span_id());
    assert_eq!(
        cap.span("caller").span_context.span_id(),
        client_span.parent_span_id
    );
    assert_eq!(
        attr(&client_span, "url.full").as_deref(),
        Some(format!("http://{b}/leaf").as_str())
    );
}
