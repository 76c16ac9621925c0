//! # baker-otel-axum
//!
//! OpenTelemetry for axum and any tower HTTP stack, on top of [`baker_otel`]:
//!
//! * [`OtelLayer`] — one SERVER span per request at `INFO` level, named `{METHOD} {route}` from
//!   axum's [`MatchedPath`](axum::extract::MatchedPath) template (never the raw path; `{METHOD}`
//!   alone when no route matched), with the stable HTTP semantic-convention attributes,
//!   `error.type` and ERROR status on 5xx and service errors. Incoming `traceparent`,
//!   `tracestate` and `baggage` are extracted with the global propagator and continue the trace.
//! * `X-Trace-Id: <32 lowercase hex>` (configurable, plus optional W3C `traceresponse`) on every
//!   response that passes through the layer — 404 fallback, 4xx/5xx, extractor rejections,
//!   panics caught and timeouts produced by layers *inside* it (see [the layer order](OtelLayer)).
//! * Metrics `http.server.request.duration` (s, semconv buckets) and `http.server.active_requests`
//!   with the labels of `docs/metrics.md`, through the global (or a given) meter provider, so
//!   they reach OTLP and `/metrics`.
//! * `/healthz`, `/readyz` and `/metrics` (configurable) produce no span and no metrics.
//! * [`OtelClientLayer`] (and [`send_traced`] for reqwest, feature `reqwest`) — CLIENT spans
//!   and context injection for outgoing calls.
//!
//! The server span is entered around the handler future, so `tracing` events in handlers (JSON
//! lines, OTLP logs) carry the same trace id as the `X-Trace-Id` header.
//!
//! ```no_run
//! use axum::{routing::post, Router};
//!
//! async fn chat() -> &'static str {
//!     tracing::info!("chat called"); // JSON line with the request's trace_id
//!     "ok"
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let _telemetry = baker_otel::init()?;
//!     let app = Router::new()
//!         .route("/v1/chat", post(chat))
//!         .layer(baker_otel_axum::OtelLayer::new()); // last .layer() = outermost
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Spans use the `tracing` targets [`SERVER_SPAN_TARGET`] and [`CLIENT_SPAN_TARGET`]. When the
//! span is filtered out (e.g. `RUST_LOG=warn`) the layer still echoes a valid incoming trace id
//! and still records metrics.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod carrier;
mod client;
mod layer;
mod metrics;
mod request;
#[cfg(feature = "reqwest")]
mod reqwest;
mod service;

pub use carrier::{HeaderExtractor, HeaderInjector};
pub use client::{ClientFuture, OtelClientLayer, OtelClientService, CLIENT_SPAN_TARGET};
pub use layer::{OtelLayer, OtelLayerBuilder, DEFAULT_EXCLUDED_PATHS, TRACE_ID_HEADER};
pub use metrics::DURATION_BUCKETS;
#[cfg(feature = "reqwest")]
pub use reqwest::send_traced;
pub use service::{OtelService, ResponseFuture, SERVER_SPAN_TARGET};
