//! An embedded OTLP/HTTP (protobuf) receiver: the Brain and the Worker export their spans and
//! log records here, so the demo and the end-to-end test can read every trace back.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Kind of a received span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Kind {
    /// INTERNAL (or unspecified).
    #[default]
    Internal,
    /// SERVER.
    Server,
    /// CLIENT.
    Client,
    /// PRODUCER.
    Producer,
    /// CONSUMER.
    Consumer,
}

impl Kind {
    fn from_proto(k: i32) -> Self {
        match k {
            2 => Kind::Server,
            3 => Kind::Client,
            4 => Kind::Producer,
            5 => Kind::Consumer,
            _ => Kind::Internal,
        }
    }

    /// Lower-case name, as in `otel.kind`.
    ///
    /// ```
    /// assert_eq!(agent_pipeline::demo::collector::Kind::Producer.as_str(), "producer");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Internal => "internal",
            Kind::Server => "server",
            Kind::Client => "client",
            Kind::Producer => "producer",
            Kind::Consumer => "consumer",
        }
    }
}

/// A span as received over OTLP.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SpanRecord {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, empty for a root.
    pub parent_span_id: String,
    /// `service.name` of the resource.
    pub service: String,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: Kind,
    /// Start, ns since the epoch.
    pub start_ns: u64,
    /// End, ns since the epoch.
    pub end_ns: u64,
    /// Attributes as JSON values.
    pub attributes: Vec<(String, serde_json::Value)>,
    /// Status code ERROR.
    pub error: bool,
    /// Status message.
    pub status_message: String,
    /// Links as (trace id, span id), 32 and 16 hex digits.
    pub links: Vec<(String, String)>,
}

impl SpanRecord {
    /// An attribute by key.
    pub fn attr(&self, key: &str) -> Option<&serde_json::Value> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// A string attribute by key.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(|v| v.as_str())
    }

    /// A numeric attribute by key. Numeric strings count too (a `u64` beyond `i64::MAX` is
    /// exported as its decimal text).
    ///
    /// ```
    /// let mut s = agent_pipeline::demo::collector::SpanRecord::default();
    /// s.attributes.push(("n".into(), serde_json::json!("1810")));
    /// assert_eq!(s.attr_f64("n"), Some(1810.0));
    /// ```
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        self.attr(key).and_then(|v| match v {
            serde_json::Value::String(t) => t.parse().ok(),
            v => v.as_f64(),
        })
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }
}

/// A log record as received over OTLP.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogRecord {
    /// `service.name` of the resource.
    pub service: String,
    /// 32 hex digits or empty.
    pub trace_id: String,
    /// Body as text.
    pub body: String,
    /// Attributes as JSON values.
    pub attributes: Vec<(String, serde_json::Value)>,
}

#[derive(Default)]
struct Store {
    spans: Mutex<Vec<SpanRecord>>,
    logs: Mutex<Vec<LogRecord>>,
    changed: Notify,
}

/// The running receiver. Dropping it stops the server.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// let collector = agent_pipeline::demo::collector::Collector::start().await?;
/// // child processes: OTEL_EXPORTER_OTLP_ENDPOINT=<endpoint>, OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
/// println!("{}", collector.endpoint());
/// # Ok(()) }
/// ```
pub struct Collector {
    store: Arc<Store>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Collector {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Store::default());
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(traces))
            .route("/v1/logs", axum::routing::post(logs))
            .route("/v1/metrics", axum::routing::post(metrics))
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(store.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("otlp receiver stopped: {e}");
            }
        });
        Ok(Self { store, addr, task })
    }

    /// Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (protocol `http/protobuf`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span of `trace_id` received so far.
    pub fn trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        lock(&self.store.spans)
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<SpanRecord> {
        lock(&self.store.spans).clone()
    }

    /// Every log record received so far.
    pub fn logs(&self) -> Vec<LogRecord> {
        lock(&self.store.logs).clone()
    }

    /// Waits until `done(spans of the trace)` holds or `timeout` passes; returns the spans.
    pub async fn wait_for_trace(
        &self,
        trace_id: &str,
        timeout: Duration,
        done: impl Fn(&[SpanRecord]) -> bool,
    ) -> Vec<SpanRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.store.changed.notified();
            let spans = self.trace(trace_id);
            if done(&spans) || tokio::time::Instant::now() >= deadline {
                return spans;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn check_encoding(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-protobuf") {
        return Err(Box::new(
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "only application/x-protobuf",
            )
                .into_response(),
        ));
    }
    if headers
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v != "identity")
    {
        return Err(Box::new(
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "compression is not supported",
            )
                .into_response(),
        ));
    }
    Ok(())
}

fn protobuf(bytes: Vec<u8>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/x-protobuf")],
        bytes,
    )
        .into_response()
}

fn service_of(attrs: &[KeyValue]) -> String {
    attrs
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .map(any_to_text)
        .unwrap_or_else(|| "unknown".into())
}

async fn traces(State(store): State<Arc<Store>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_encoding(&headers) {
        return *r;
    }
    let Ok(req) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, "invalid ExportTraceServiceRequest").into_response();
    };
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let service = service_of(
            rs.resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]),
        );
        for ss in rs.scope_spans {
            for s in ss.spans {
                let (error, status_message) = s
                    .status
                    .map(|st| (st.code == 2, st.message))
                    .unwrap_or_default();
                out.push(SpanRecord {
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    service: service.clone(),
                    name: s.name,
                    kind: Kind::from_proto(s.kind),
                    start_ns: s.start_time_unix_nano,
                    end_ns: s.end_time_unix_nano,
                    attributes: s.attributes.iter().map(kv_to_json).collect(),
                    error,
                    status_message,
                    links: s
                        .links
                        .iter()
                        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                        .collect(),
                });
            }
        }
    }
    lock(&store.spans).extend(out);
    store.changed.notify_waiters();
    protobuf(ExportTraceServiceResponse::default().encode_to_vec())
}

async fn logs(State(store): State<Arc<Store>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_encoding(&headers) {
        return *r;
    }
    let Ok(req) = ExportLogsServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, "invalid ExportLogsServiceRequest").into_response();
    };
    let mut out = Vec::new();
    for rl in req.resource_logs {
        let service = service_of(
            rl.resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]),
        );
        for sl in rl.scope_logs {
            for l in sl.log_records {
                out.push(LogRecord {
                    service: service.clone(),
                    trace_id: hex(&l.trace_id),
                    body: l.body.as_ref().map(any_to_text).unwrap_or_default(),
                    attributes: l.attributes.iter().map(kv_to_json).collect(),
                });
            }
        }
    }
    lock(&store.logs).extend(out);
    store.changed.notify_waiters();
    protobuf(ExportLogsServiceResponse::default().encode_to_vec())
}

async fn metrics(headers: HeaderMap) -> Response {
    // Metrics are read from the services' /metrics endpoints; OTLP metric pushes are accepted.
    if let Err(r) = check_encoding(&headers) {
        return *r;
    }
    protobuf(ExportMetricsServiceResponse::default().encode_to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn kv_to_json(kv: &KeyValue) -> (String, serde_json::Value) {
    (
        kv.key.clone(),
        kv.value
            .as_ref()
            .map(any_to_json)
            .unwrap_or(serde_json::Value::Null),
    )
}

fn any_to_text(v: &AnyValue) -> String {
    match any_to_json(v) {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

fn any_to_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(J::Number)
            .unwrap_or(J::Null),
        Some(any_value::Value::ArrayValue(a)) => {
            J::Array(a.values.iter().map(any_to_json).collect())
        }
        Some(any_value::Value::KvlistValue(l)) => {
            J::Object(l.values.iter().map(kv_to_json).collect())
        }
        Some(any_value::Value::BytesValue(b)) => J::String(hex(b)),
        _ => J::Null,
    }
}
