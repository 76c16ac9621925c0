//! Arbitrary header bytes never panic and always yield a valid trace id.
mod common;

use axum::routing::get;
use axum::Router;
use proptest::prelude::*;
use tower::ServiceExt;

#[test]
fn arbitrary_propagation_headers_never_panic() {
    let cap = common::capture();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .layer(baker_otel_axum::OtelLayer::new(cap.telemetry()));
    let traceparent = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}".prop_map(String::into_bytes),
        "[0-9a-zA-Z-]{0,60}".prop_map(String::into_bytes),
    ];
    let baggage = proptest::collection::vec(any::<u8>(), 0..200);
    proptest!(ProptestConfig::with_cases(512), |(tp in traceparent, bg in baggage, ts in proptest::collection::vec(any::<u8>(), 0..64))| {
        let mut req = http::Request::get("/x");
        for (k, v) in [("traceparent", &tp), ("baggage", &bg), ("tracestate", &ts)] {
            if let Ok(v) = http::HeaderValue::from_bytes(v) {
                req = req.header(k, v);
            }
        }
        let res = rt.block_on(app.clone().oneshot(req.body(axum::body::Body::empty()).unwrap())).unwrap();
        prop_assert_eq!(res.status(), 200);
        let id = res.headers().get("x-trace-id").expect("header").to_str().unwrap();
        prop_assert_eq!(id.len(), 32);
        prop_assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        prop_assert_ne!(id, "00000000000000000000000000000000");
    });
}
