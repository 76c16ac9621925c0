//! # baker-otel
//!
//! One-call OpenTelemetry for Rust services: OTLP traces, metrics and logs (gRPC or HTTP), JSON
//! log lines on stdout correlated by trace, conversation and job id, Prometheus `/metrics`, the
//! standard `OTEL_*` environment variables and a bounded shutdown.
//!
//! ```no_run
//! fn main() -> Result<(), baker_otel::InitError> {
//!     let _telemetry = baker_otel::init()?;          // reads OTEL_* env vars
//!     let span = tracing::info_span!("handle_job", job.kind = "summarise");
//!     let _enter = span.enter();
//!     tracing::info!(tokens = 812, "job done");       // JSON line + OTLP log record
//!     Ok(())
//! }                                                   // guard drop: flush + shutdown ≤ 5 s
//! ```
//!
//! Plain `tracing` keeps working: spans become OpenTelemetry spans, events become log records.
//! Conversation and job ids are set with [`context::BakerScope`] and travel as W3C baggage.
//! See the repository README for the full configuration reference.
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `otlp-grpc` | yes | OTLP over gRPC (tonic), `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`, with TLS |
//! | `otlp-http` | yes | OTLP over HTTP (reqwest), `http/protobuf` and `http/json`, with TLS |
//! | `prometheus` | yes | `OTEL_METRICS_EXPORTER=prometheus` and [`MetricsHandler`] |
//! | `testing` | no | `testing::Capture`: the real pipelines into memory, for tests |
//!
//! With `default-features = false` the JSON log lines, the `console` exporters and the in-process
//! providers still work. Defaults follow the build: OTLP is the default exporter only when a
//! transport is compiled in, and the default protocol is `grpc` unless only `otlp-http` is.
//! Selecting an exporter that is compiled out (`OTEL_TRACES_EXPORTER=otlp` without a transport,
//! `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` without `otlp-grpc`, `OTEL_METRICS_EXPORTER=prometheus`
//! without `prometheus`, or the same through the builder) makes `init()` fail with
//! [`ConfigError::FeatureDisabled`], which names the setting and the feature.
//!
//! # TLS, secrets, quiet logs
//!
//! `https://` OTLP endpoints use rustls (ring) with the system and webpki roots; a private CA and
//! an mTLS client identity come from `OTEL_EXPORTER_OTLP_CERTIFICATE`,
//! `…_CLIENT_CERTIFICATE`, `…_CLIENT_KEY` or the builder
//! ([`TelemetryBuilder::otlp_certificate`], [`TelemetryBuilder::otlp_client_identity`]). Header
//! values are never printed ([`config::REDACTED`]). The OpenTelemetry SDK's own informational
//! events stay off stdout unless `RUST_LOG` names an `opentelemetry` target.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod cardinality;
pub mod config;
pub mod context;
mod error;
mod export;
mod logs;
mod metrics;
pub mod propagation;
mod resource;
mod span_layer;
mod telemetry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod traces;
mod util;

pub use config::{Config, Signal};
pub use error::{ConfigError, InitError, ShutdownError};
pub use logs::json::JsonSink;
pub use metrics::{MetricsHandler, PROMETHEUS_CONTENT_TYPE};
pub use span_layer::{
    CompatSpans, OpenTelemetrySpanExt, SetParentError, SpanStartHook, SpanStarter, StartingSpan,
};
pub use telemetry::{init, Telemetry, TelemetryBuilder, TelemetryHandle};

/// Target of baker-otel's own diagnostics (never exported as OTLP log records).
pub const INTERNAL_TARGET: &str = "baker_otel::internal";

/// The crate's README (its crates.io page), compiled as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
