//! Outbound propagation policy (issue #14): baggage goes only to allowed destinations; by
//! default never to third-party hosts such as an LLM provider's API.
mod common;

use baker_otel::context::BakerScope;
use baker_otel::propagation::{Destinations, OutboundPolicy};
use common::*;
use std::sync::{Arc, Mutex};
use tower::{Service, ServiceBuilder, ServiceExt};

type Seen = Arc<Mutex<Vec<(String, http::HeaderMap)>>>;

/// Sends one request through the layer to a transport that records what it was given.
async fn send_through(layer: baker_otel_axum::OtelClientLayer, url: &str, seen: &Seen) {
    let record = seen.clone();
    let mut svc = ServiceBuilder::new()
        .layer(layer)
        .service(tower::service_fn(move |req: http::Request<String>| {
            let record = record.clone();
            async move {
                record
                    .lock()
                    .unwrap()
                    .push((req.uri().to_string(), req.headers().clone()));
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            }
        }));
    let req = http::Request::get(url).body(String::new()).unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
}

fn headers_for(seen: &Seen, url: &str) -> http::HeaderMap {
    seen.lock()
        .unwrap()
        .iter()
        .find(|(u, _)| u == url)
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| panic!("no request to {url}"))
}

#[tokio::test]
async fn tower_layer_default_sends_baggage_to_internal_hosts_only() {
    let cap = capture();
    let seen: Seen = Arc::default();
    let layer = baker_otel_axum::OtelClientLayer::new(cap.telemetry());
    let urls = [
        "http://extension:8080/tool",
        "http://10.0.0.7/tool",
        "http://worker.jobs.svc.cluster.local/x",
        "https://api.openai.com/v1/chat/completions",
        "https://generativelanguage.googleapis.com/v1/models",
    ];
    async {
        for url in urls {
            send_through(layer.clone(), url, &seen).await;
        }
    }
    .instrument_ids()
    .await;
    for url in &urls[..3] {
        let h = headers_for(&seen, url);
        assert!(h.contains_key("traceparent"), "{url}");
        let b = h["baggage"].to_str().unwrap();
        assert!(b.contains("gen_ai.conversation.id=conv-1"), "{url}: {b}");
    }
    for url in &urls[3..] {
        let h = headers_for(&seen, url);
        assert!(
            h.contains_key("traceparent"),
            "{url}: trace context still goes"
        );
        assert!(
            !h.contains_key("baggage"),
            "{url}: no baggage to a third party"
        );
    }
}

#[tokio::test]
async fn tower_layer_follows_a_user_policy() {
    let cap = capture();
    let seen: Seen = Arc::default();
    let layer = baker_otel_axum::OtelClientLayer::new(cap.telemetry()).outbound_policy(
        OutboundPolicy::default()
            .baggage_to(Destinations::hosts(["tools.partner.example"]))
            .trace_context_to(Destinations::internal().and_hosts(["tools.partner.example"])),
    );
    let urls = [
        "https://tools.partner.example/run",
        "http://extension/tool",
        "https://api.anthropic.com/v1/messages",
    ];
    async {
        for url in urls {
            send_through(layer.clone(), url, &seen).await;
        }
    }
    .instrument_ids()
    .await;
    let partner = headers_for(&seen, urls[0]);
    assert!(partner.contains_key("traceparent") && partner.contains_key("baggage"));
    let internal = headers_for(&seen, urls[1]);
    assert!(internal.contains_key("traceparent") && !internal.contains_key("baggage"));
    let third = headers_for(&seen, urls[2]);
    assert!(
        third.is_empty(),
        "nothing propagated to a host the user did not allow: {third:?}"
    );

    let everywhere = baker_otel_axum::OtelClientLayer::new(cap.telemetry())
        .outbound_policy(OutboundPolicy::everywhere());
    async { send_through(everywhere, "https://api.example.com/x", &seen).await }
        .instrument_ids()
        .await;
    assert!(headers_for(&seen, "https://api.example.com/x").contains_key("baggage"));
}

/// reqwest, over the wire: the "third-party" host name resolves to a loopback echo server, so
/// the headers are what really left the process. `reqwest_client` follows the policy per host;
/// `send` with any client sends only what every host may get (no baggage by default).
#[cfg(feature = "reqwest")]
#[tokio::test]
async fn reqwest_send_follows_the_policy_over_the_wire() {
    use axum::routing::get;
    use axum::Router;
    let cap = capture();
    let echo = serve(Router::new().route(
        "/echo",
        get(|headers: http::HeaderMap| async move {
            format!(
                "traceparent={} baggage={}",
                headers.contains_key("traceparent"),
                headers
                    .get("baggage")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
            )
        }),
    ))
    .await;
    let builder = || {
        reqwest::Client::builder()
            .no_proxy()
            .resolve("api.openai.com", echo)
    };
    let layer = baker_otel_axum::OtelClientLayer::new(cap.telemetry());
    let traced = layer.reqwest_client(builder()).unwrap();
    let any_client = builder().build().unwrap();
    let (third, internal, any) = async {
        let third = traced
            .send(traced.get(format!("http://api.openai.com:{}/echo", echo.port())))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let internal = traced
            .send(traced.get(format!("http://{echo}/echo")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let any = layer
            .send(any_client.get(format!("http://{echo}/echo")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (third, internal, any)
    }
    .instrument_ids()
    .await;
    assert_eq!(third, "traceparent=true baggage=-");
    assert!(
        internal.starts_with("traceparent=true baggage=")
            && internal.contains("gen_ai.conversation.id=conv-1"),
        "{internal}"
    );
    assert_eq!(any, "traceparent=true baggage=-");
}

trait WithIds: std::future::Future + Sized {
    fn instrument_ids(self) -> opentelemetry::context::WithContext<Self> {
        BakerScope::current()
            .conversation_id("conv-1")
            .job_id("job-1")
            .instrument(self)
    }
}
impl<F: std::future::Future> WithIds for F {}
