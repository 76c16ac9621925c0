//! Messaging span construction and error marking (outcome bookkeeping: `outcome.rs`).

use baker_otel::OpenTelemetrySpanExt;
use std::fmt::Debug;
use tracing::field::Empty;
use tracing::Span;

/// Tracing target of every span this crate creates.
pub const TARGET: &str = "baker_otel_nats";

/// Header carrying the JetStream message id (`messaging.message.id`).
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// A client-side operation: which span kind, operation name and type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Publish,
    Request,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Publish => "publish",
            Op::Request => "request",
        }
    }
}

/// `send {dest}` (PRODUCER) or `request {dest}` (CLIENT), child of the current span.
/// The JetStream message id (`Nats-Msg-Id`) of outgoing headers.
pub(crate) fn msg_id(headers: &async_nats::HeaderMap) -> Option<&str> {
    crate::HeaderExtractor(headers).value(MSG_ID_HEADER)
}

pub(crate) fn client_span(op: Op, dest: &str, body_size: usize, msg_id: Option<&str>) -> Span {
    let span = match op {
        Op::Publish => tracing::info_span!(
            target: TARGET, "nats.send",
            otel.name = format_args!("send {dest}"),
            otel.kind = "producer",
            otel.status_code = Empty,
            otel.status_description = Empty,
            messaging.system = "nats",
            messaging.operation.name = "publish",
            messaging.operation.type = "send",
            messaging.destination.name = dest,
            messaging.message.body.size = body_size as i64,
            messaging.message.id = msg_id,
            error.type = Empty,
        ),
        Op::Request => tracing::info_span!(
            target: TARGET, "nats.request",
            otel.name = format_args!("request {dest}"),
            otel.kind = "client",
            otel.status_code = Empty,
            otel.status_description = Empty,
            messaging.system = "nats",
            messaging.operation.name = "request",
            messaging.operation.type = "send",
            messaging.destination.name = dest,
            messaging.message.body.size = body_size as i64,
            messaging.message.id = msg_id,
            error.type = Empty,
        ),
    };
    if crate::subject::is_inbox(dest) {
        span.set_attribute("messaging.destination.temporary", true);
    }
    span
}

/// The context to inject for `span`: its own, or the current one if the span is filtered out
/// (so propagation survives a restrictive `RUST_LOG`).
pub(crate) fn context_of(span: &Span) -> opentelemetry::Context {
    if span.is_disabled() {
        opentelemetry::Context::current()
    } else {
        span.context()
    }
}

/// A low-cardinality `error.type`: the error kind's variant name.
pub(crate) fn error_type<K: Debug>(kind: K) -> String {
    let mut s = format!("{kind:?}");
    if let Some(i) = s.find(['(', ' ', '{']) {
        s.truncate(i);
    }
    s
}

/// Marks `span` as failed.
pub(crate) fn record_error(span: &Span, error_type: &str, description: &dyn std::fmt::Display) {
    span.record("otel.status_code", "ERROR");
    span.record(
        "otel.status_description",
        tracing::field::display(description),
    );
    span.record("error.type", error_type);
}
