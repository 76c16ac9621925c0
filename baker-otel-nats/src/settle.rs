//! JetStream settlement (ack / nak / term) with a settle span and counters.

use crate::instruments::system;
use crate::spans::{self, TARGET};
use crate::{ReceivedMessage, Traced};
use async_nats::jetstream::AckKind;
use opentelemetry::KeyValue;
use std::time::{Duration, Instant};
use tracing::field::Empty;
use tracing::Instrument;

fn op_name(kind: &AckKind) -> &'static str {
    match kind {
        AckKind::Ack => "ack",
        AckKind::Nak(_) => "nak",
        AckKind::Progress => "progress",
        AckKind::Next => "next",
        AckKind::Term => "term",
    }
}

impl Traced<async_nats::jetstream::Message> {
    /// Acknowledges the message.
    ///
    /// Creates a CLIENT span `ack {stream}` (child of the `process` span), records
    /// `messaging.client.operation.duration` and counts `baker.messaging.settlements`.
    ///
    /// ```no_run
    /// # async fn f(m: baker_otel_nats::Traced<async_nats::jetstream::Message>) -> Result<(), async_nats::Error> {
    /// m.ack().await
    /// # }
    /// ```
    pub async fn ack(&self) -> Result<(), async_nats::Error> {
        self.settle(AckKind::Ack).await
    }

    /// Negatively acknowledges the message (redeliver after `delay`, or at once).
    ///
    /// ```no_run
    /// # async fn f(m: baker_otel_nats::Traced<async_nats::jetstream::Message>) -> Result<(), async_nats::Error> {
    /// m.nak(Some(std::time::Duration::from_secs(5))).await
    /// # }
    /// ```
    pub async fn nak(&self, delay: Option<Duration>) -> Result<(), async_nats::Error> {
        self.settle(AckKind::Nak(delay)).await
    }

    /// Terminates the message (never redelivered).
    ///
    /// ```no_run
    /// # async fn f(m: baker_otel_nats::Traced<async_nats::jetstream::Message>) -> Result<(), async_nats::Error> {
    /// m.term().await
    /// # }
    /// ```
    pub async fn term(&self) -> Result<(), async_nats::Error> {
        self.settle(AckKind::Term).await
    }

    /// Sends any acknowledgement kind; `ack`, `nak` and `term` count as settlements.
    ///
    /// ```no_run
    /// # async fn f(m: baker_otel_nats::Traced<async_nats::jetstream::Message>) -> Result<(), async_nats::Error> {
    /// m.settle(async_nats::jetstream::AckKind::Progress).await
    /// # }
    /// ```
    pub async fn settle(&self, kind: AckKind) -> Result<(), async_nats::Error> {
        let op = op_name(&kind);
        let stream = self.message().delivery().map(|d| d.stream).unwrap_or("");
        let span = tracing::info_span!(
            target: TARGET, parent: &self.span, "nats.settle",
            otel.name = format_args!("{op} {stream}"),
            otel.kind = "client",
            otel.status_code = Empty,
            otel.status_description = Empty,
            messaging.system = "nats",
            messaging.operation.name = op,
            messaging.operation.type = "settle",
            messaging.destination.name = self.dest.as_str(),
            messaging.consumer.group.name = self.group.as_deref(),
            error.type = Empty,
        );
        let start = Instant::now();
        let res = self.message().ack_with(kind).instrument(span.clone()).await;
        let mut attrs = Vec::with_capacity(4);
        attrs.push(KeyValue::new("messaging.operation.name", op));
        attrs.push(KeyValue::new(
            "messaging.destination.name",
            self.dest.clone(),
        ));
        if res.is_ok() && matches!(op, "ack" | "nak" | "term") {
            self.tel.inst.settlements.add(1, &attrs);
        }
        attrs.push(system());
        if let Err(e) = &res {
            spans::record_error(&span, "_OTHER", e);
            attrs.push(KeyValue::new("error.type", "_OTHER"));
        }
        self.tel
            .inst
            .operation_duration
            .record(start.elapsed().as_secs_f64(), &attrs);
        res
    }
}
