//! The attack of audit finding 1, end to end: public requests to an unrouted path, each with a
//! valid `traceparent` and the largest `tracestate` a client can send (32 list-members of 256-byte
//! keys and values, ~16 KiB), exported over OTLP/gRPC to a receiver that refuses messages over
//! gRPC's default 4 MiB. No span may be lost: the client's `tracestate` is not kept on the link,
//! and the export byte cap counts whatever `tracestate` a span does carry.
#[path = "../../baker-otel/tests/support/faulty_grpc.rs"]
mod faulty_grpc;

use axum::routing::get;
use axum::Router;
use baker_otel::config::{EnvSource, Signal};
use faulty_grpc::FaultyGrpcCollector;

const REQUESTS: usize = 300;
/// tonic's (and the OpenTelemetry Collector's) default limit for a received message.
const GRPC_DEFAULT_MAX_MESSAGE: usize = 4 << 20;

fn largest_tracestate() -> String {
    let members: Vec<String> = (0..32)
        .map(|i| format!("k{i:02}{}={}", "x".repeat(253), "v".repeat(256)))
        .collect();
    members.join(",")
}

#[tokio::test]
async fn hostile_tracestates_on_a_public_endpoint_lose_no_span() {
    let collector = FaultyGrpcCollector::start([], GRPC_DEFAULT_MAX_MESSAGE);
    let (t, d) = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "brain".to_owned()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
            // Everything queued until the flush below: one batch of all the requests' spans, as
            // a busy service forms them.
            ("OTEL_BSP_SCHEDULE_DELAY", "600000".to_owned()),
            ("OTEL_BSP_EXPORT_TIMEOUT", "5000".to_owned()),
            ("OTEL_LOGS_EXPORTER", "none".to_owned()),
            ("OTEL_METRICS_EXPORTER", "none".to_owned()),
            ("BAKER_OTEL_JSON_LOGS", "false".to_owned()),
        ]))
        .build()
        .expect("build");
    let _default = tracing::dispatcher::set_default(&d);
    let layer = baker_otel_axum::OtelLayer::builder(&t.handle())
        .public_endpoint(true)
        .build();
    let app = Router::new()
        .route("/chat", get(|| async { "ok" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let tracestate = largest_tracestate();
    assert!(tracestate.len() > 16_000);
    for i in 0..REQUESTS {
        let res = client
            .get(format!("http://{addr}/nope"))
            .header(
                "traceparent",
                format!("00-{:032x}-{:016x}-01", i + 1, i + 1),
            )
            .header("tracestate", &tracestate)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }

    let flushed = tokio::task::spawn_blocking(move || {
        let r = t.force_flush();
        (t, r)
    })
    .await
    .unwrap();
    let (t, flushed) = flushed;
    flushed.expect("flush");
    // The flush returns once the exports are answered, and the receiver records a request's
    // spans before it answers: what it holds now is final.
    assert_eq!(t.dropped(Signal::Traces), 0, "no span dropped");
    assert_eq!(collector.accepted(), REQUESTS, "every span arrived");
    tokio::task::spawn_blocking(move || t.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
}
