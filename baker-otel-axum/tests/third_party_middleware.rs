//! Crates built on tracing-opentelemetry keep their traces under `baker_otel::init()`.
//!
//! Two real crates of the OpenTelemetry 0.33 line that call
//! `tracing_opentelemetry::OpenTelemetrySpanExt` — axum-tracing-opentelemetry's server layer and
//! tonic-tracing-opentelemetry's client and server layers — together with baker-otel's own
//! spans, in one trace: a caller's `traceparent` → the axum SERVER span (`set_parent`) → a span
//! of baker-otel's own layer → the tonic CLIENT span (its `context()` is injected into the gRPC
//! metadata) → over loopback → the tonic SERVER span (`set_parent` from the metadata) → a span of
//! baker-otel's own layer. `add_link`, `set_attribute` and `set_status` through
//! tracing-opentelemetry's trait land on the exported span. Asserted on what a real OTLP/gRPC
//! receiver got. One test: `init()` is once per process. (With the default,
//! `CompatSpans::off()`, the axum SERVER span starts a new trace instead of the caller's, and
//! baker-otel logs a warning naming `compat_spans`.)
//!
//! (This file's name keeps its own spans on baker-otel's layer: a crate or test named for
//! tracing/OpenTelemetry instrumentation would be selected by `CompatSpans::auto()`.)
use axum::routing::get;
use fake_opentelemetry_collector::{ExportedSpan, FakeCollectorServer};
use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::net::SocketAddr;
use std::time::Duration;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const LINKED_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const LINKED_SPAN: &str = "b7ad6b7169203331";

/// The gRPC peer: its handler runs inside tonic-tracing-opentelemetry's SERVER span.
struct Peer;

#[tonic::async_trait]
impl TraceService for Peer {
    async fn export(
        &self,
        _request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        tracing::Span::current().set_attribute("app.peer", "tools");
        async { tracing::info!("stored") }
            .instrument(tracing::info_span!("store result"))
            .await;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn serve_grpc() -> SocketAddr {
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = incoming.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(tonic_tracing_opentelemetry::middleware::server::OtelGrpcLayer::default())
            .add_service(TraceServiceServer::new(Peer))
            .serve_with_incoming(incoming),
    );
    addr
}

fn linked() -> SpanContext {
    SpanContext::new(
        TraceId::from_hex(LINKED_TRACE).unwrap(),
        SpanId::from_hex(LINKED_SPAN).unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    )
}

/// The axum handler: inside axum-tracing-opentelemetry's SERVER span.
async fn ask(axum::extract::State(grpc): axum::extract::State<SocketAddr>) -> &'static str {
    let server = tracing::Span::current();
    server.set_attribute("app.tenant", "acme");
    server.add_link(linked());
    server.set_status(Status::error("degraded"));
    async move {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
            .unwrap()
            .connect()
            .await
            .expect("connect");
        let channel = tower::ServiceBuilder::new()
            .layer(tonic_tracing_opentelemetry::middleware::client::OtelGrpcLayer)
            .service(channel);
        TraceServiceClient::new(channel)
            .export(ExportTraceServiceRequest::default())
            .await
            .expect("grpc call");
    }
    .instrument(tracing::info_span!("plan answer"))
    .await;
    "ok"
}

fn one<'a>(spans: &'a [ExportedSpan], name: &str, kind: &str) -> &'a ExportedSpan {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.name == name && s.kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "{name} {kind} in {spans:#?}");
    found[0]
}

/// The receiver renders attribute values as the proto's `Debug`.
fn attr<'a>(span: &'a ExportedSpan, key: &str) -> Option<&'a str> {
    span.attributes.get(key).map(String::as_str)
}

fn string(v: &str) -> String {
    format!("Some(AnyValue {{ value: Some(StringValue({v:?})) }})")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_through_tracing_opentelemetry_middlewares_and_baker_spans() {
    let mut collector = FakeCollectorServer::start().await.expect("collector");
    let endpoint = collector.endpoint();
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(baker_otel::config::EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "brain"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
        ]))
        .compat_spans(baker_otel::CompatSpans::auto())
        .init()
        .expect("init");

    let grpc = serve_grpc().await;
    let app = axum::Router::new()
        .route("/ask", get(ask))
        .with_state(grpc)
        .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let res = reqwest::Client::new()
        .get(format!("http://{http}/ask"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);

    // `context()` of a span not yet entered names that span; `set_parent` before entering
    // continues a remote parent — on a span of the instrumentation SDK's target, directly.
    let remote = opentelemetry::Context::new().with_remote_span_context(linked());
    let queued =
        tracing::trace_span!(target: "otel::tracing", "queued job", otel.kind = "consumer");
    queued
        .set_parent(remote)
        .expect("set_parent before entering");
    let queued_cx = queued.context();
    let queued_id = queued_cx.span().span_context().span_id().to_string();
    assert_eq!(
        queued_cx.span().span_context().trace_id().to_string(),
        LINKED_TRACE
    );
    // An explicit `parent:` that is one of baker-otel's own spans is kept.
    let own = tracing::info_span!("own parent");
    let own_id = baker_otel::OpenTelemetrySpanExt::context(&own)
        .span()
        .span_context()
        .span_id()
        .to_string();
    drop(tracing::trace_span!(target: "otel::tracing", parent: &own, "explicit child"));
    drop(own);
    drop(queued);

    let spans = collector.exported_spans(8, Duration::from_secs(20)).await;
    let server = one(&spans, "GET /ask", "SPAN_KIND_SERVER");
    let plan = one(&spans, "plan answer", "SPAN_KIND_INTERNAL");
    let rpc = "opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let client = one(&spans, rpc, "SPAN_KIND_CLIENT");
    let peer = one(&spans, rpc, "SPAN_KIND_SERVER");
    let store = one(&spans, "store result", "SPAN_KIND_INTERNAL");

    // One trace, the caller's, with each span the child of the one before.
    for s in [server, plan, client, peer, store] {
        assert_eq!(s.trace_id, CALLER_TRACE, "{}", s.name);
    }
    assert_eq!(server.parent_span_id, CALLER_SPAN);
    assert_eq!(plan.parent_span_id, server.span_id);
    assert_eq!(client.parent_span_id, plan.span_id);
    assert_eq!(peer.parent_span_id, client.span_id);
    assert_eq!(store.parent_span_id, peer.span_id);

    // tracing-opentelemetry's trait on the third-party spans.
    assert_eq!(attr(server, "app.tenant"), Some(string("acme").as_str()));
    assert_eq!(attr(server, "http.route"), Some(string("/ask").as_str()));
    assert_eq!(server.links.len(), 1, "{:?}", server.links);
    assert_eq!(server.links[0].trace_id, LINKED_TRACE);
    assert_eq!(server.links[0].span_id, LINKED_SPAN);
    let status = server.status.as_ref().expect("status");
    assert_eq!(
        (status.code.as_str(), status.message.as_str()),
        ("STATUS_CODE_ERROR", "degraded")
    );
    assert_eq!(attr(peer, "app.peer"), Some(string("tools").as_str()));

    let queued = one(&spans, "queued job", "SPAN_KIND_CONSUMER");
    assert_eq!(queued.span_id, queued_id);
    assert_eq!(queued.trace_id, LINKED_TRACE);
    assert_eq!(queued.parent_span_id, LINKED_SPAN);
    let child = one(&spans, "explicit child", "SPAN_KIND_INTERNAL");
    assert_eq!(child.parent_span_id, own_id);

    // Nothing was lost on the way.
    assert_eq!(telemetry.dropped(baker_otel::Signal::Traces), 0);
    telemetry.shutdown().expect("shutdown");
}
