//! The outbound policy holds on every path a header can take (audit finding 3, issue #31):
//! across redirects to other hosts, and for propagation headers already on the request
//! (forwarded from an inbound request). What crossed the wire is what real loopback servers
//! received; "other hosts" are names resolved to loopback (`reqwest::ClientBuilder::resolve`).
#![cfg(feature = "reqwest")]
mod common;

use common::wire::*;
use common::*;
use tower::{Service, ServiceBuilder, ServiceExt};

/// (a) A 302 from an allowed host to another one: reqwest follows it with the same headers
/// unless `send` stops it. Server B must never see what the policy refuses to its host.
#[tokio::test]
async fn reqwest_send_never_carries_refused_fields_across_a_redirect() {
    let cap = capture();
    let (b, b_log) = recorder().await;
    let (a, a_log) = redirector(format!("http://localhost:{}/landing", b.port())).await;
    let http = client_resolving_localhost_to(b);
    let traced = baker_otel_axum::OtelClientLayer::new(cap.telemetry()).outbound_policy(only_127());

    let res = with_ids(traced.send(http.get(format!("http://{a}/start"))))
        .await
        .unwrap();
    // Whether `send` follows the redirect or hands it back, B must not have been sent more
    // than the policy gives `localhost`.
    assert_eq!(seen(&a_log).len(), 1);
    for s in seen(&b_log) {
        assert!(
            !s.headers.contains_key("baggage"),
            "B ({}) received baggage: {:?}",
            s.path,
            s.headers.get("baggage")
        );
        assert!(
            !s.headers.contains_key("traceparent"),
            "B received traceparent"
        );
    }
    let _ = res;
}

/// (b) The tower layer, for a `baggage`/`traceparent` the caller already put on the request
/// (forwarded from an inbound request): refused fields are removed, not left alone.
#[tokio::test]
async fn tower_layer_removes_forwarded_fields_the_policy_refuses() {
    let cap = capture();
    let (b, b_log) = recorder().await;
    let http = client_resolving_localhost_to(b);
    let layer = baker_otel_axum::OtelClientLayer::new(cap.telemetry()).outbound_policy(only_127());
    let mut svc = ServiceBuilder::new()
        .layer(layer)
        .service(reqwest_service(http));
    let req = forwarded(http::Request::get(format!(
        "http://localhost:{}/x",
        b.port()
    )));
    with_ids(async { svc.ready().await.unwrap().call(req).await.unwrap() }).await;
    let s = &seen(&b_log)[0];
    for h in ["baggage", "traceparent", "tracestate"] {
        assert!(!s.headers.contains_key(h), "{h} reached B: {:?}", s.headers);
    }
}

/// (b) reqwest `send`: the same for headers set on the builder.
#[tokio::test]
async fn reqwest_send_removes_forwarded_fields_the_policy_refuses() {
    let cap = capture();
    let (b, b_log) = recorder().await;
    let http = client_resolving_localhost_to(b);
    let traced = baker_otel_axum::OtelClientLayer::new(cap.telemetry()).outbound_policy(only_127());
    let builder = http
        .get(format!("http://localhost:{}/x", b.port()))
        .header(
            "baggage",
            "user.id=forwarded,gen_ai.conversation.id=inbound",
        )
        .header(
            "traceparent",
            "00-11111111111111111111111111111111-2222222222222222-01",
        )
        .header("tracestate", "vendor=inbound");
    with_ids(traced.send(builder)).await.unwrap();
    let s = &seen(&b_log)[0];
    for h in ["baggage", "traceparent", "tracestate"] {
        assert!(!s.headers.contains_key(h), "{h} reached B: {:?}", s.headers);
    }
}

/// (a) + (b) with tower-http's `FollowRedirect` *outside* the client layer (the order the docs
/// ask for): every hop goes through the layer, which applies the policy to the hop's host —
/// also to the `baggage` header the caller forwarded, which `FollowRedirect` re-sends.
#[tokio::test]
async fn tower_follow_redirect_outside_the_layer_applies_the_policy_per_hop() {
    let cap = capture();
    let (b, b_log) = recorder().await;
    let (a, a_log) = redirector(format!("http://localhost:{}/landing", b.port())).await;
    let http = transport_resolving_localhost_to(b);
    let layer = baker_otel_axum::OtelClientLayer::new(cap.telemetry()).outbound_policy(only_127());
    let mut svc = ServiceBuilder::new()
        .layer(tower_http::follow_redirect::FollowRedirectLayer::new())
        .layer(layer)
        .service(reqwest_service(http));
    let req = forwarded(http::Request::get(format!("http://{a}/start")));
    let res = with_ids(async { svc.ready().await.unwrap().call(req).await.unwrap() }).await;
    assert_eq!(res.status(), 200);
    let a_seen = &seen(&a_log)[0];
    assert!(a_seen.headers.contains_key("traceparent"));
    let a_baggage = a_seen.headers["baggage"].to_str().unwrap();
    assert!(
        a_baggage.contains("gen_ai.conversation.id=conv-secret"),
        "{a_baggage}"
    );
    let b_seen = &seen(&b_log)[0];
    assert_eq!(b_seen.path, "/landing");
    for h in ["baggage", "traceparent", "tracestate"] {
        assert!(
            !b_seen.headers.contains_key(h),
            "{h} reached B: {:?}",
            b_seen.headers
        );
    }
}

/// Headers a proxying handler forwards from its own inbound request.
fn forwarded(builder: http::request::Builder) -> http::Request<String> {
    builder
        .header(
            "baggage",
            "user.id=forwarded,gen_ai.conversation.id=inbound",
        )
        .header(
            "traceparent",
            "00-11111111111111111111111111111111-2222222222222222-01",
        )
        .header("tracestate", "vendor=inbound")
        .body(String::new())
        .unwrap()
}

/// reqwest as a `Service<http::Request<String>>`.
fn reqwest_service(
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
            Ok(http::Response::from(client.execute(req).await?))
        }
    })
}

/// (a) `OtelClientLayer::send` with any client: it cannot stop the client from following a
/// redirect, so it sends only what the policy sends to every host — with the default policy,
/// no baggage even to an internal host.
#[tokio::test]
async fn layer_send_with_any_client_sends_only_what_every_host_may_get() {
    let cap = capture();
    let (b, b_log) = recorder().await;
    let (a, a_log) = redirector(format!("http://localhost:{}/landing", b.port())).await;
    let http = client_resolving_localhost_to(b);
    let traced = baker_otel_axum::OtelClientLayer::new(cap.telemetry());
    let res = with_ids(traced.send(http.get(format!("http://{a}/start"))))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the client followed the redirect itself");
    for s in seen(&a_log).iter().chain(seen(&b_log).iter()) {
        assert!(s.headers.contains_key("traceparent"), "{}", s.path);
        assert!(
            !s.headers.contains_key("baggage"),
            "{}: {:?}",
            s.path,
            s.headers
        );
    }
}
