//! Shared helpers: a real server on 127.0.0.1:0 and lookups in the capture.
#![allow(dead_code)]

pub mod wire;

use baker_otel::testing::{Capture, CapturedSpan};
use opentelemetry::trace::SpanKind;
use std::net::SocketAddr;

/// A capture that is this thread's default subscriber until dropped: with a current-thread
/// runtime (`#[tokio::test]`), the server, its connection tasks and the client all run under it.
pub struct Scoped {
    cap: Capture,
    _guard: tracing::dispatcher::DefaultGuard,
}

impl std::ops::Deref for Scoped {
    type Target = Capture;
    fn deref(&self) -> &Capture {
        &self.cap
    }
}

/// A scoped capture (see [`Scoped`]); any number run in parallel in one process.
pub fn capture() -> Scoped {
    scoped(Capture::new())
}

/// Scopes an existing capture to this thread.
pub fn scoped(cap: Capture) -> Scoped {
    let _guard = cap.set_default();
    Scoped { cap, _guard }
}

/// Serves `app` on a fresh loopback port.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The `x-trace-id` header, checked to be 32 lowercase hex digits.
#[track_caller]
pub fn trace_header(res: &reqwest::Response) -> String {
    let v = res
        .headers()
        .get("x-trace-id")
        .unwrap_or_else(|| panic!("no x-trace-id on {}", res.status()));
    let v = v.to_str().unwrap().to_owned();
    assert_eq!(v.len(), 32, "{v}");
    assert!(
        v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{v}"
    );
    assert_ne!(v, "0".repeat(32));
    v
}

pub fn server_spans(c: &Capture) -> Vec<CapturedSpan> {
    c.spans()
        .into_iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect()
}

/// The single SERVER span of trace `trace_id`.
#[track_caller]
pub fn server_span(c: &Capture, trace_id: &str) -> CapturedSpan {
    let all = server_spans(c);
    let mut found: Vec<_> = all
        .iter()
        .filter(|s| s.span_context.trace_id().to_string() == trace_id)
        .cloned()
        .collect();
    assert_eq!(
        found.len(),
        1,
        "server spans of {trace_id}: {:?}",
        all.iter()
            .map(|s| (&s.name, s.span_context.trace_id()))
            .collect::<Vec<_>>()
    );
    found.remove(0)
}

pub fn attr(s: &CapturedSpan, k: &str) -> Option<String> {
    Capture::attr(s, k).map(|v| v.to_string())
}
