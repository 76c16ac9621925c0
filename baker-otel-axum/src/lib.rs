//! # baker-otel-axum
//!
//! OpenTelemetry for axum and any tower HTTP stack, on top of [`baker_otel`]:
//!
//! * [`OtelLayer`] — one SERVER span per request at `INFO` level, named `{METHOD} {route}` from
//!   axum's [`MatchedPath`](axum::extract::MatchedPath) template (never the raw path; `{METHOD}`
//!   alone when no route matched), with the stable HTTP semantic-convention attributes,
//!   `error.type` and ERROR status on 5xx and service errors. Incoming `traceparent`,
//!   `tracestate` (capped at [`MAX_TRACESTATE_LEN`](baker_otel::propagation::MAX_TRACESTATE_LEN)
//!   bytes) and `baggage` are extracted with the hub's propagation and continue the trace —
//!   except on **public endpoints** ([`OtelLayerBuilder::public_endpoint`],
//!   [`OtelLayerBuilder::public_endpoint_fn`]), where the client's context becomes a span link
//!   (without its `tracestate`) of a new trace and its baggage is dropped (or filtered by an
//!   allow-list).
//! * `X-Trace-Id: <32 lowercase hex>` (configurable, plus optional W3C `traceresponse`) on every
//!   response that passes through the layer — 404 fallback, 4xx/5xx, extractor rejections,
//!   panics caught and timeouts produced by layers *inside* it (see [the layer order](OtelLayer)).
//! * Metrics `http.server.request.duration` (s, semconv buckets) and `http.server.active_requests`
//!   with the labels of `docs/metrics.md`, through the hub's meter provider, so they reach OTLP
//!   and `/metrics`.
//! * `/healthz`, `/readyz` and `/metrics` (configurable) produce no span and no metrics.
//! * [`metrics_router`] / [`serve_metrics`] — `GET /metrics` (Prometheus text of
//!   [`baker_otel::MetricsHandler`]) as an axum router or on its own address.
//! * [`OtelClientLayer`] (and, feature `reqwest`, `OtelClientLayer::reqwest_client` — a reqwest
//!   client that applies the policy to every redirect hop) — CLIENT spans and context injection
//!   for outgoing calls, by an
//!   [`OutboundPolicy`](baker_otel::propagation::OutboundPolicy): baggage only to internal hosts
//!   unless you allow more; a field the policy refuses is removed from the request even when
//!   the caller set it.
//!
//! # Design: a span started straight into the export queue, attached as the current context
//!
//! Every layer is built from the [`baker_otel::Telemetry`] hub (`OtelLayer::new(&telemetry)`)
//! and takes its span starter, meter and propagation from it; nothing is read from OpenTelemetry's
//! globals, so a layer built at any point of start-up works, and a test's
//! `baker_otel::testing::Capture` sees exactly its own requests.
//!
//! The SERVER span is an OpenTelemetry span started with the hub's
//! [`baker_otel::SpanStarter`] — the same sampler, limits, ids and export queue as every other
//! span of the hub, without the SDK tracer's per-span machinery — not a `tracing` span. Per
//! request the layer:
//!
//! 1. asks the `tracing` filter whether a span of target [`SERVER_SPAN_TARGET`] at `INFO` is
//!    enabled (so `RUST_LOG` still controls it: `RUST_LOG=info,baker_otel_axum::server=off`
//!    turns the spans off, and the layer then only echoes a valid incoming trace id and keeps
//!    the incoming context current);
//! 2. extracts `traceparent`/`tracestate`/`baggage` (only when one of them is present) and
//!    starts the span with that remote parent (or the current context), its attributes in one
//!    pre-sized `Vec`, its name `{METHOD} {route}` interned once per route;
//! 3. attaches the span's [`opentelemetry::Context`] while the inner service is called and on
//!    **every poll** of its future, and ends the span exactly once: when the response (or
//!    error) comes back, or with `error.type = "panic"` / `"cancelled"` if the future unwinds or
//!    is dropped first;
//! 4. records the metrics with an attribute set cached per route (no `KeyValue` built, no
//!    allocation on the hot path) and writes `X-Trace-Id` from a stack buffer.
//!
//! This skips the `tracing` span registry, field visitors and the core's span
//! layer: the whole layer costs a fraction of a `tracing`-based one (see `benches/axum.rs`).
//! Everything that reads the *OpenTelemetry* current context sees the server span: child
//! `tracing` spans (the core's span layer parents them on `Context::current()`), JSON log lines
//! and OTLP log records (their `trace_id`/`span_id` equal `X-Trace-Id` and the server span's
//! id), [`baker_otel::context::BakerScope`] (records the ids on the server span), baggage
//! copied onto the span when it starts, and outgoing propagation.
//!
//! ## `tracing::Span::current()` is not the server span
//!
//! Because the server span is not a `tracing` span, `tracing::Span::current()` inside a
//! handler is whatever `tracing` span the handler entered (often none), and
//! `baker_otel::OpenTelemetrySpanExt::set_attribute` on it does not reach the
//! server span. Use the OpenTelemetry context instead:
//!
//! ```
//! use opentelemetry::trace::TraceContextExt;
//! use opentelemetry::KeyValue;
//!
//! async fn handler() -> &'static str {
//!     let cx = opentelemetry::Context::current();
//!     cx.span().set_attribute(KeyValue::new("app.tenant", "acme")); // on the server span
//!     let _trace_id = cx.span().span_context().trace_id(); // = X-Trace-Id
//!     "ok"
//! }
//! # let _ = handler;
//! ```
//!
//! ## Layer order
//!
//! Add [`OtelLayer`] with `Router::layer`, **last** (outermost), after `CatchPanicLayer`,
//! `TimeoutLayer` and any other layer that can produce a response: only responses that pass
//! through it get the header (see [`OtelLayer`]).
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
//!     let telemetry = baker_otel::init()?;
//!     let app = Router::new()
//!         .route("/v1/chat", post(chat))
//!         .layer(baker_otel_axum::OtelLayer::new(&telemetry)); // last .layer() = outermost
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Server spans are gated by the `tracing` target [`SERVER_SPAN_TARGET`] (at `INFO`); client
//! spans are `tracing` spans of target [`CLIENT_SPAN_TARGET`]. When the server span is filtered
//! out (e.g. `RUST_LOG=warn`) the layer still echoes a valid incoming trace id, keeps the
//! incoming context current for the handler and still records metrics.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod carrier;
mod client;
mod first_seen;
mod intern;
mod layer;
mod metrics;
mod metrics_route;
#[cfg(feature = "reqwest")]
mod redirect;
mod request;
#[cfg(feature = "reqwest")]
mod reqwest;
mod route;
mod service;
mod shared;
mod tracer;

#[cfg(feature = "reqwest")]
pub use crate::reqwest::{OtelReqwestClient, DEFAULT_MAX_REDIRECTS};
pub use carrier::{HeaderExtractor, HeaderInjector};
pub use client::{ClientFuture, OtelClientLayer, OtelClientService, CLIENT_SPAN_TARGET};
pub use layer::{OtelLayer, OtelLayerBuilder, DEFAULT_EXCLUDED_PATHS, TRACE_ID_HEADER};
pub use metrics::DURATION_BUCKETS;
pub use metrics_route::{metrics_router, metrics_router_at, serve_metrics};
pub use service::{OtelService, ResponseFuture, SERVER_SPAN_TARGET};
pub use shared::RequestHead;

/// The crate's README (its crates.io page), compiled as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
