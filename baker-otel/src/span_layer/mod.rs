//! The `tracing` → OpenTelemetry span layer.
//!
//! Each `tracing` span gets its trace and span ids and its sampling decision when it is created;
//! its fields become attributes (`otel.name`, `otel.kind`, `otel.status_code` and
//! `otel.status_description` — or tracing-opentelemetry's `otel.status_message` — set name, kind
//! and status). The span is exported as `SpanData`
//! into the same bounded queue the SDK's spans go to when it closes. Entering it (or asking for
//! [`OpenTelemetrySpanExt::context`]) activates an OpenTelemetry [`Context`] holding it, so
//! `Context::current()`, the propagators, JSON log lines and OTLP log records see it. An `ERROR`
//! event sets its span's status to `Error`, as tracing-opentelemetry does.

mod compat;
mod compat_tracer;
mod ext;
mod layer;
mod live;
mod plugins;
mod record;
mod shared;
mod starter;
mod state;

pub use compat::CompatSpans;
pub use ext::OpenTelemetrySpanExt;
pub(crate) use layer::{explicit_parent, SpanLayer};
pub(crate) use plugins::{SharedIds, SharedSampler, SpanPlugins};
pub use plugins::{SpanStartHook, StartingSpan};
pub(crate) use shared::{Sampled, Shared};
pub use starter::SpanStarter;
pub use state::SetParentError;
