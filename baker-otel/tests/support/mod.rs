//! A real OTLP/HTTP receiver for tests: decodes protobuf requests with `opentelemetry-proto`.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Received {
    pub traces: Vec<ExportTraceServiceRequest>,
    /// The headers of each trace export request.
    pub trace_headers: Vec<axum::http::HeaderMap>,
    pub logs: Vec<ExportLogsServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
}

impl Received {
    /// Every span received, in order.
    pub fn spans(&self) -> Vec<&opentelemetry_proto::tonic::trace::v1::Span> {
        self.traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .collect()
    }
}

#[derive(Clone)]
pub struct HttpReceiver {
    pub addr: std::net::SocketAddr,
    pub received: Arc<Mutex<Received>>,
}

impl HttpReceiver {
    /// Serves on 127.0.0.1:0 on its own thread and runtime (independent of the code under test).
    pub fn start() -> Self {
        let received = Arc::new(Mutex::new(Received::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let r = received.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = axum::Router::new()
                    .route("/v1/traces", post(traces))
                    .route("/v1/logs", post(logs))
                    .route("/v1/metrics", post(metrics))
                    .with_state(r);
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap()).unwrap();
                axum::serve(l, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Self { addr, received }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits (bounded) until `cond` holds on what was received.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&Received) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if cond(&self.received.lock().unwrap()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("receiver never got {what}");
    }
}

async fn traces(
    State(r): State<Arc<Mutex<Received>>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> &'static str {
    let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .expect("valid gzip");
        Bytes::from(out)
    } else {
        body
    };
    let mut r = r.lock().unwrap();
    r.traces
        .push(ExportTraceServiceRequest::decode(body).expect("valid protobuf"));
    r.trace_headers.push(headers);
    ""
}
async fn logs(State(r): State<Arc<Mutex<Received>>>, body: Bytes) -> &'static str {
    r.lock()
        .unwrap()
        .logs
        .push(ExportLogsServiceRequest::decode(body).expect("valid protobuf"));
    ""
}
async fn metrics(State(r): State<Arc<Mutex<Received>>>, body: Bytes) -> &'static str {
    r.lock()
        .unwrap()
        .metrics
        .push(ExportMetricsServiceRequest::decode(body).expect("valid protobuf"));
    ""
}

pub fn attr(kvs: &[KeyValue], key: &str) -> Option<String> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .map(|v| match v {
            any_value::Value::StringValue(s) => s.clone(),
            any_value::Value::IntValue(i) => i.to_string(),
            any_value::Value::DoubleValue(d) => d.to_string(),
            any_value::Value::BoolValue(b) => b.to_string(),
            other => format!("{other:?}"),
        })
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
