//! [`SendGuard`]: records a send/request exactly once — on completion, or on drop.
//!
//! The guard owns the operation's span and its start time. Completing it
//! ([`SendGuard::finish`]) records the outcome; dropping it first means the caller gave up:
//!
//! - while the operation was in flight (the future was dropped, e.g. by
//!   `tokio::time::timeout`): the span gets ERROR status with `error.type = "cancelled"` and
//!   the metrics are recorded with `error_type="cancelled"`;
//! - after a JetStream send whose ack was never awaited: the outcome is unknown, so the span
//!   ends without a status and the metrics are recorded as for a sent message (no
//!   `error_type`, duration of the send step) — the same as a core NATS publish.

use crate::instruments::{system, Instruments};
use crate::policy::Destination;
use crate::propagation;
use crate::spans::{self, msg_id, Op};
use crate::NatsTelemetry;
use async_nats::HeaderMap;
use opentelemetry::KeyValue;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Span;

/// `error.type` of an operation whose future was dropped before it completed.
pub(crate) const CANCELLED: &str = "cancelled";

/// What dropping an unfinished guard records.
#[derive(Debug, Clone, Copy)]
enum OnDrop {
    /// In flight: the caller cancelled it.
    Cancelled,
    /// Sent, ack never awaited: unknown outcome, recorded as sent after `send` elapsed.
    Unobserved { send: Duration },
    /// Already recorded.
    Done,
}

/// Records the span status and the `operation.duration` / `sent.messages` metrics of one
/// send or request exactly once.
#[derive(Debug)]
pub(crate) struct SendGuard {
    inst: Arc<Instruments>,
    op: Op,
    dest: String,
    start: Instant,
    span: Span,
    on_drop: OnDrop,
}

impl SendGuard {
    /// The common start of every traced send: the CLIENT/PRODUCER span for `op` to `to`'s
    /// subject (inboxes collapsed), its context injected into `headers` as the telemetry's
    /// outbound policy allows for `to` (merged with the caller's headers; a refused field the
    /// caller set is removed), and the guard that records the outcome exactly once — if the
    /// send is dropped before it completes, as "cancelled".
    pub(crate) fn begin(
        tel: &NatsTelemetry,
        op: Op,
        to: Destination<'_>,
        payload_len: usize,
        headers: &mut HeaderMap,
    ) -> Self {
        let dest = tel.destination(to.subject);
        let span = spans::client_span(op, &dest, payload_len, msg_id(headers));
        propagation::inject_allowed(
            &tel.propagation,
            &spans::context_of(&span),
            &|f| tel.allows(f, to),
            headers,
        );
        Self::new(tel.inst.clone(), op, &dest, span)
    }

    /// Starts timing `op` to `dest`, traced by `span`; dropping it now records a cancellation.
    pub(crate) fn new(inst: Arc<Instruments>, op: Op, dest: &str, span: Span) -> Self {
        Self {
            inst,
            op,
            dest: dest.to_owned(),
            start: Instant::now(),
            span,
            on_drop: OnDrop::Cancelled,
        }
    }

    /// The operation's span.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// The message was sent; its ack is pending. Dropping the guard now records an unknown
    /// outcome (no error) instead of a cancellation, until [`awaiting`](Self::awaiting).
    pub(crate) fn sent(&mut self) {
        self.on_drop = OnDrop::Unobserved {
            send: self.start.elapsed(),
        };
    }

    /// The caller awaits the ack: dropping the guard now records a cancellation again.
    pub(crate) fn awaiting(&mut self) {
        self.on_drop = OnDrop::Cancelled;
    }

    /// Records a success.
    pub(crate) fn succeed(mut self) {
        self.record(None, self.start.elapsed());
    }

    /// Records a failure with `error_type` (span status ERROR, `error.type`, metric labels).
    pub(crate) fn fail(mut self, error_type: &str, description: &dyn std::fmt::Display) {
        spans::record_error(&self.span, error_type, description);
        self.record(Some(error_type), self.start.elapsed());
    }

    fn record(&mut self, error_type: Option<&str>, elapsed: Duration) {
        self.on_drop = OnDrop::Done;
        let mut attrs = Vec::with_capacity(4);
        attrs.push(system());
        attrs.push(KeyValue::new(
            "messaging.destination.name",
            std::mem::take(&mut self.dest),
        ));
        if let Some(e) = error_type {
            attrs.push(KeyValue::new("error.type", e.to_owned()));
        }
        // Required on messaging.client.sent.messages too (semconv v1.41).
        attrs.push(KeyValue::new("messaging.operation.name", self.op.name()));
        self.inst.sent.add(1, &attrs);
        self.inst
            .operation_duration
            .record(elapsed.as_secs_f64(), &attrs);
    }
}

impl Drop for SendGuard {
    fn drop(&mut self) {
        match self.on_drop {
            OnDrop::Done => {}
            OnDrop::Cancelled => {
                spans::record_error(
                    &self.span,
                    CANCELLED,
                    &"cancelled: the operation's future was dropped before it completed",
                );
                self.record(Some(CANCELLED), self.start.elapsed());
            }
            OnDrop::Unobserved { send } => self.record(None, send),
        }
    }
}
