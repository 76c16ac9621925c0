//! Real loopback servers that record what crossed the wire, and clients that send "other
//! hosts" to them (outbound policy tests).

use super::serve;
use axum::extract::State;
use axum::routing::any;
use axum::Router;
use baker_otel::context::BakerScope;
use baker_otel::propagation::{Destinations, OutboundPolicy};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A request as a server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: String,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

pub async fn record(log: &Log, req: http::Request<axum::body::Body>) {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    log.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
}

/// A loopback server that records every request and answers 200 `ok`.
pub async fn recorder() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let app = Router::new()
        .fallback(any(
            |State(log): State<Log>, req: http::Request<axum::body::Body>| async move {
                record(&log, req).await;
                "ok"
            },
        ))
        .with_state(log.clone());
    (serve(app).await, log)
}

/// A loopback server that records every request and answers `302 Location: {to}`.
pub async fn redirector(to: String) -> (SocketAddr, Log) {
    redirector_with(http::StatusCode::FOUND, to).await
}

/// A loopback server that records every request and answers `{status} Location: {to}`.
pub async fn redirector_with(status: http::StatusCode, to: String) -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let app =
        Router::new()
            .fallback(any(
                move |State((log, to)): State<(Log, String)>,
                      req: http::Request<axum::body::Body>| async move {
                    record(&log, req).await;
                    (status, [(http::header::LOCATION, to)], "moved")
                },
            ))
            .with_state((log.clone(), to));
    (serve(app).await, log)
}

/// A client builder on which `localhost` is server `b` (no DNS, no proxy).
pub fn resolving_localhost_to(b: SocketAddr) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .resolve("localhost", b)
}

/// Such a client with reqwest's defaults (it follows redirects by itself).
pub fn client_resolving_localhost_to(b: SocketAddr) -> reqwest::Client {
    resolving_localhost_to(b).build().unwrap()
}

/// Such a client that hands redirects back (the transport under tower's `FollowRedirect`).
pub fn transport_resolving_localhost_to(b: SocketAddr) -> reqwest::Client {
    resolving_localhost_to(b)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Baggage and trace context only to 127.0.0.1: `localhost` is another host to the policy.
pub fn only_127() -> OutboundPolicy {
    OutboundPolicy::default()
        .baggage_to(Destinations::hosts(["127.0.0.1"]))
        .trace_context_to(Destinations::hosts(["127.0.0.1"]))
}

pub fn seen(log: &Log) -> Vec<Seen> {
    log.lock().unwrap().clone()
}

pub async fn with_ids<F: std::future::Future>(f: F) -> F::Output {
    BakerScope::current()
        .conversation_id("conv-secret")
        .job_id("job-secret")
        .instrument(f)
        .await
}

/// The span id in a `traceparent` value.
pub fn parent_id(traceparent: &http::HeaderValue) -> String {
    traceparent
        .to_str()
        .unwrap()
        .split('-')
        .nth(2)
        .unwrap()
        .to_owned()
}
