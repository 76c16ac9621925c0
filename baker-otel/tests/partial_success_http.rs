//! OTLP/HTTP partial success: a collector that accepts a request but rejects some of its spans
//! (`rejected_spans`) gets them counted in the drop counter, protobuf and JSON alike — never more
//! than the request held, whatever the collector claims.
use axum::body::Bytes;
use axum::routing::post;
use baker_otel::config::{EnvSource, Signal};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A receiver that answers every request with a partial success claiming `rejected` spans (in
/// JSON as proto3 JSON writes an int64: a string); returns its address and request count.
fn receiver(json: bool, rejected: u64) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let r = requests.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/v1/traces",
                post(move |_body: Bytes| {
                    let r = r.clone();
                    async move {
                        r.fetch_add(1, Ordering::Relaxed);
                        if json {
                            let body = format!(
                                r#"{{"partialSuccess":{{"rejectedSpans":"{rejected}","errorMessage":"too old"}}}}"#
                            );
                            ([("content-type", "application/json")], body.into_bytes())
                        } else {
                            let body = ExportTraceServiceResponse {
                                partial_success: Some(ExportTracePartialSuccess {
                                    rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
                                    error_message: "too old".into(),
                                }),
                            }
                            .encode_to_vec();
                            ([("content-type", "application/x-protobuf")], body)
                        }
                    }
                }),
            );
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), requests)
}

fn telemetry(
    addr: std::net::SocketAddr,
    protocol: &str,
) -> (baker_otel::Telemetry, tracing::Dispatch) {
    baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}")),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
            ("OTEL_LOGS_EXPORTER", "none".to_owned()),
            ("OTEL_METRICS_EXPORTER", "none".to_owned()),
            ("BAKER_OTEL_JSON_LOGS", "false".to_owned()),
        ]))
        .build()
        .expect("build")
}

/// A collector answering `rejectedSpans: 18446744073709551615` (JSON) or `i64::MAX` (protobuf,
/// an int64) to every request: the counter takes at most the request's spans, never panics
/// (tests run with overflow checks) and never wraps.
#[test]
fn a_collector_cannot_claim_more_rejections_than_it_was_sent() {
    for (protocol, json) in [("http/json", true), ("http/protobuf", false)] {
        let (addr, requests) = receiver(json, u64::MAX);
        let (t, d) = telemetry(addr, protocol);
        for round in 0..2 {
            tracing::dispatcher::with_default(&d, || {
                for i in 0..5 {
                    tracing::info_span!("op", i = i).in_scope(|| {});
                }
            });
            t.force_flush().expect("flush");
            assert_eq!(requests.load(Ordering::Relaxed), round + 1, "{protocol}");
        }
        assert_eq!(
            t.dropped(Signal::Traces),
            10,
            "{protocol}: the 10 spans sent, not what the collector claimed"
        );
        t.shutdown().expect("shutdown");
    }
}

#[test]
fn rejected_spans_of_a_partial_success_are_counted() {
    for (protocol, json) in [("http/protobuf", false), ("http/json", true)] {
        let (addr, requests) = receiver(json, 2);
        let (t, d) = telemetry(addr, protocol);
        tracing::dispatcher::with_default(&d, || {
            for i in 0..5 {
                tracing::info_span!("op", i = i).in_scope(|| {});
            }
        });
        t.force_flush().expect("flush");
        assert_eq!(requests.load(Ordering::Relaxed), 1, "{protocol}");
        assert_eq!(
            t.dropped(Signal::Traces),
            2,
            "{protocol}: rejected spans are counted"
        );
        t.shutdown().expect("shutdown");
    }
}
