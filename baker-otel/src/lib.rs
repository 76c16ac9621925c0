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
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod context;
mod error;
mod export;
mod logs;
mod metrics;
pub mod propagation;
mod resource;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
mod traces;
mod util;

pub use config::{Config, Signal};
pub use error::{ConfigError, InitError, ShutdownError};
pub use logs::json::JsonSink;
pub use metrics::{MetricsHandler, PROMETHEUS_CONTENT_TYPE};
pub use telemetry::{init, Telemetry, TelemetryBuilder, TelemetryHandle};

/// Target of baker-otel's own diagnostics (never exported as OTLP log records).
pub const INTERNAL_TARGET: &str = "baker_otel::internal";
