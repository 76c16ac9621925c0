//! Redirects under the outbound policy (audit finding 3a, issue #31): `reqwest_client` follows
//! them itself, hop by hop, each hop a CLIENT span that gets what the policy gives its own host,
//! with the method, body and credential rules of reqwest / tower-http. What crossed the wire is
//! what real loopback servers received.
#![cfg(feature = "reqwest")]
mod common;

use axum::extract::State;
use axum::routing::any;
use axum::Router;
use baker_otel::propagation::{Destinations, OutboundPolicy};
use common::wire::*;
use common::*;
use std::sync::Arc;

/// (a) `reqwest_client`: `send` follows the redirect itself, one CLIENT span per hop, each hop
/// getting what the policy gives *its* host: A (127.0.0.1) the baggage, B (`localhost`) not —
/// not even the `baggage` the caller set on the request.
#[tokio::test]
async fn reqwest_client_applies_the_policy_to_every_redirect_hop() {
    let cap = capture();
    let (b, b_log) = recorder().await;
    let (a, a_log) = redirector(format!("http://localhost:{}/landing", b.port())).await;
    let http = baker_otel_axum::OtelClientLayer::new(cap.telemetry())
        .outbound_policy(OutboundPolicy::default().baggage_to(Destinations::hosts(["127.0.0.1"])))
        .reqwest_client(resolving_localhost_to(b))
        .unwrap();
    let builder = http
        .get(format!("http://{a}/start"))
        .header("baggage", "user.id=forwarded");
    let res = with_ids(http.send(builder)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.url().host_str(), Some("localhost"));

    let a_seen = &seen(&a_log)[0];
    let a_baggage = a_seen.headers["baggage"].to_str().unwrap();
    assert!(a_baggage.contains("baker.job.id=job-secret"), "{a_baggage}");
    assert!(
        !a_baggage.contains("forwarded"),
        "ours replaces the caller's"
    );
    let b_seen = seen(&b_log);
    assert_eq!(b_seen.len(), 1);
    assert!(
        !b_seen[0].headers.contains_key("baggage"),
        "{:?}",
        b_seen[0].headers
    );

    // Trace context goes everywhere (default): each hop carries its own CLIENT span.
    let clients: Vec<_> = cap
        .spans()
        .into_iter()
        .filter(|s| s.span_kind == opentelemetry::trace::SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 2, "one CLIENT span per hop");
    let first = clients
        .iter()
        .find(|s| attr(s, "http.request.resend_count").is_none())
        .unwrap();
    let second = clients
        .iter()
        .find(|s| attr(s, "http.request.resend_count").as_deref() == Some("1"))
        .unwrap();
    assert_eq!(
        attr(first, "http.response.status_code").as_deref(),
        Some("302")
    );
    assert_eq!(attr(second, "server.address").as_deref(), Some("localhost"));
    assert_eq!(first.parent_span_id, second.parent_span_id, "siblings");
    assert_eq!(
        parent_id(&a_seen.headers["traceparent"]),
        first.span_context.span_id().to_string()
    );
    assert_eq!(
        parent_id(&b_seen[0].headers["traceparent"]),
        second.span_context.span_id().to_string()
    );
}

/// Method and body across 303 and 307 (RFC 9110, as tower-http's `FollowRedirect`), and the
/// credentials dropped on the hop to another host.
#[tokio::test]
async fn reqwest_client_redirects_keep_method_and_body_semantics() {
    let cap = capture();
    let (b, b_log) = recorder().await;
    let to_b = format!("http://localhost:{}/landing", b.port());
    let http = baker_otel_axum::OtelClientLayer::new(cap.telemetry())
        .reqwest_client(resolving_localhost_to(b))
        .unwrap();
    for (status, method, body) in [
        (http::StatusCode::TEMPORARY_REDIRECT, "POST", "payload"),
        (http::StatusCode::PERMANENT_REDIRECT, "POST", "payload"),
        (http::StatusCode::SEE_OTHER, "GET", ""),
        (http::StatusCode::FOUND, "GET", ""),
    ] {
        let (a, _) = redirector_with(status, to_b.clone()).await;
        let res = http
            .send(
                http.post(format!("http://{a}/start"))
                    .bearer_auth("secret-token")
                    .header(http::header::CONTENT_TYPE, "text/plain")
                    .body("payload"),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{status}");
        let got = seen(&b_log).pop().unwrap();
        assert_eq!(
            (got.method.as_str(), got.body.as_str()),
            (method, body),
            "{status}"
        );
        assert_eq!(
            got.headers.contains_key("content-type"),
            !body.is_empty(),
            "{status}"
        );
        assert!(
            !got.headers.contains_key("authorization"),
            "{status}: credentials went to another host"
        );
    }
}

/// A redirect loop ends at the limit with the last 3xx.
#[tokio::test]
async fn reqwest_client_stops_at_the_redirect_limit() {
    let cap = capture();
    let log: Log = Arc::default();
    let app = Router::new()
        .fallback(any(
            |State(log): State<Log>, req: http::Request<axum::body::Body>| async move {
                record(&log, req).await;
                (
                    http::StatusCode::FOUND,
                    [(http::header::LOCATION, "/again")],
                    "",
                )
            },
        ))
        .with_state(log.clone());
    let a = serve(app).await;
    let http = baker_otel_axum::OtelClientLayer::new(cap.telemetry())
        .reqwest_client(reqwest::Client::builder().no_proxy())
        .unwrap()
        .max_redirects(3);
    let res = http
        .send(http.get(format!("http://{a}/start")))
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(seen(&log).len(), 4, "the request and 3 redirects");
    let default = baker_otel_axum::OtelClientLayer::new(cap.telemetry())
        .reqwest_client(reqwest::Client::builder().no_proxy())
        .unwrap();
    // Spawned: the future is `Send`.
    let res =
        tokio::spawn(async move { default.send(default.get(format!("http://{a}/start"))).await })
            .await
            .unwrap()
            .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(
        seen(&log).len(),
        4 + 1 + baker_otel_axum::DEFAULT_MAX_REDIRECTS
    );
}
