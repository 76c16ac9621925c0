//! Traced consumption: each delivered message comes with a CONSUMER `process {subject}` span
//! whose parent is the remote context from the message headers — or, on subjects whose
//! publishers are untrusted ([`NatsTelemetry::untrusted_subjects`]), a new root linked to it.

use crate::instruments::system;
use crate::spans::{self, MSG_ID_HEADER, TARGET};
use crate::{propagation, NatsTelemetry};
use baker_otel::OpenTelemetrySpanExt;
use futures_util::Stream;
use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::KeyValue;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tracing::field::Empty;
use tracing::{Instrument, Span};

/// A received message: core NATS [`async_nats::Message`] or JetStream [`async_nats::jetstream::Message`].
///
/// ```
/// use baker_otel_nats::ReceivedMessage;
/// fn subject_of<M: ReceivedMessage>(m: &M) -> &str { m.nats_message().subject.as_str() }
/// ```
pub trait ReceivedMessage {
    /// The underlying core message (subject, headers, payload).
    fn nats_message(&self) -> &async_nats::Message;
    /// JetStream delivery metadata (stream, consumer, delivery count), if any.
    fn delivery(&self) -> Option<Delivery<'_>> {
        None
    }
}

/// JetStream delivery metadata parsed from the ack subject.
///
/// ```
/// let d = baker_otel_nats::Delivery { stream: "JOBS", consumer: "workers", delivered: 2 };
/// assert!(d.is_redelivery());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'a> {
    /// Stream name.
    pub stream: &'a str,
    /// Consumer (durable) name.
    pub consumer: &'a str,
    /// Number of delivery attempts so far (1 = first delivery).
    pub delivered: i64,
}

impl Delivery<'_> {
    /// Whether this delivery is a retry.
    ///
    /// ```
    /// assert!(!baker_otel_nats::Delivery { stream: "S", consumer: "C", delivered: 1 }.is_redelivery());
    /// ```
    pub fn is_redelivery(&self) -> bool {
        self.delivered > 1
    }
}

impl ReceivedMessage for async_nats::Message {
    fn nats_message(&self) -> &async_nats::Message {
        self
    }
}

impl ReceivedMessage for async_nats::jetstream::Message {
    fn nats_message(&self) -> &async_nats::Message {
        &self.message
    }
    fn delivery(&self) -> Option<Delivery<'_>> {
        let info = self.info().ok()?;
        Some(Delivery {
            stream: info.stream,
            consumer: info.consumer,
            delivered: info.delivered,
        })
    }
}

/// A message together with its CONSUMER `process {subject}` span.
///
/// Run the handler inside the span ([`instrument`](Self::instrument) or
/// [`in_scope`](Self::in_scope)) so its logs and child spans join the producer's trace and carry
/// the producer's conversation/job ids. `messaging.process.duration` is recorded when the
/// value is dropped (or [`finish`](Self::finish)ed); mark failures with
/// [`set_error`](Self::set_error).
///
/// ```no_run
/// # async fn run(mut sub: baker_otel_nats::TracedSubscriber) {
/// use futures_util::StreamExt;
/// while let Some(msg) = sub.next().await {
///     let span = msg.span().clone();
///     async { tracing::info!(bytes = msg.payload.len(), "handling") }.instrument(span).await;
/// }
/// # }
/// # use tracing::Instrument;
/// ```
#[derive(Debug)]
pub struct Traced<M> {
    message: M,
    pub(crate) span: Span,
    pub(crate) dest: String,
    pub(crate) group: Option<String>,
    pub(crate) tel: NatsTelemetry,
    start: Instant,
    error_type: Option<String>,
    finished: bool,
}

impl<M: ReceivedMessage> Traced<M> {
    /// Wraps a received `message`: extracts the remote context, creates the `process` span
    /// and counts the consumption (and a redelivery). `group` is the queue group or durable
    /// name; for JetStream messages it defaults to the consumer name from the delivery info.
    ///
    /// ```no_run
    /// # fn f(m: async_nats::Message) {
    /// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
    /// let traced = baker_otel_nats::Traced::new(m, None, nats);
    /// # }
    /// ```
    pub fn new(message: M, group: Option<String>, tel: NatsTelemetry) -> Self {
        let msg = message.nats_message();
        let dest = tel.destination(&msg.subject).to_string();
        let delivery = message.delivery();
        let group = group.or_else(|| delivery.map(|d| d.consumer.to_owned()));
        let msg_id = msg
            .headers
            .as_ref()
            .and_then(|h| crate::HeaderExtractor(h).value(MSG_ID_HEADER));
        let span = tracing::info_span!(
            target: TARGET, parent: None, "nats.process",
            otel.name = format_args!("process {dest}"),
            otel.kind = "consumer",
            otel.status_code = Empty,
            otel.status_description = Empty,
            messaging.system = "nats",
            messaging.operation.name = "process",
            messaging.operation.type = "process",
            messaging.destination.name = dest.as_str(),
            messaging.consumer.group.name = group.as_deref(),
            messaging.message.body.size = msg.payload.len() as i64,
            messaging.message.id = msg_id,
            baker.messaging.delivery_count = delivery.map(|d| d.delivered),
            error.type = Empty,
        );
        // The parent must be set before the span is entered or its context taken.
        if tel.untrusted.covers(&msg.subject) {
            let (link, root) = untrusted_context(&tel, msg.headers.as_ref());
            let _ = span.set_parent(root);
            if let Some(sc) = link {
                span.add_link(sc);
            }
        } else {
            let _ = span.set_parent(propagation::extract(&tel.propagation, msg.headers.as_ref()));
        }

        let mut attrs = Vec::with_capacity(4);
        attrs.push(system());
        attrs.push(KeyValue::new("messaging.destination.name", dest.clone()));
        if let Some(g) = &group {
            attrs.push(KeyValue::new("messaging.consumer.group.name", g.clone()));
        }
        if delivery.is_some_and(|d| d.is_redelivery()) {
            tel.inst.redeliveries.add(1, &attrs[1..]);
        }
        // Required on messaging.client.consumed.messages (semconv v1.41).
        attrs.push(KeyValue::new("messaging.operation.name", "process"));
        tel.inst.consumed.add(1, &attrs);
        Self {
            message,
            span,
            dest,
            group,
            tel,
            start: Instant::now(),
            error_type: None,
            finished: false,
        }
    }
}

/// An untrusted publisher's context: its span context for a link (without `tracestate`),
/// never a parent, and a context holding only the allow-listed baggage (no span: a new root).
fn untrusted_context(
    tel: &NatsTelemetry,
    headers: Option<&async_nats::HeaderMap>,
) -> (Option<SpanContext>, opentelemetry::Context) {
    let Some(h) = headers.filter(|h| !h.is_empty()) else {
        return (None, opentelemetry::Context::new());
    };
    let keep = |k: &str| tel.untrusted.keeps(k);
    let cx = tel.propagation.extract_values_filtered(
        &opentelemetry::Context::new(),
        &crate::HeaderExtractor(h).w3c_values(),
        &keep,
    );
    let sc = cx.span().span_context().clone();
    let link = sc.is_valid().then(|| {
        SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags(),
            true,
            TraceState::default(),
        )
    });
    let baggage: Vec<KeyValueMetadata> = cx
        .baggage()
        .iter()
        .map(|(k, (v, m))| KeyValueMetadata::new(k.clone(), v.clone(), m.clone()))
        .collect();
    let root = if baggage.is_empty() {
        opentelemetry::Context::new()
    } else {
        opentelemetry::Context::new().with_baggage(baggage)
    };
    (link, root)
}

impl<M> Traced<M> {
    /// The `process` span.
    ///
    /// ```no_run
    /// # fn f(m: &baker_otel_nats::Traced<async_nats::Message>) { let _s = m.span(); }
    /// ```
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// The message.
    ///
    /// ```no_run
    /// # fn f(m: &baker_otel_nats::Traced<async_nats::Message>) { let _p = &m.message().payload; }
    /// ```
    pub fn message(&self) -> &M {
        &self.message
    }

    /// The destination name used in the span name and metric labels (inboxes collapsed).
    ///
    /// ```no_run
    /// # fn f(m: &baker_otel_nats::Traced<async_nats::Message>) { let _d = m.destination(); }
    /// ```
    pub fn destination(&self) -> &str {
        &self.dest
    }

    /// Marks processing as failed: span status error, `error.type` on span and duration metric.
    ///
    /// ```no_run
    /// # fn f(mut m: baker_otel_nats::Traced<async_nats::Message>) { m.set_error("invalid_payload"); }
    /// ```
    ///
    /// `error_type` is normalised to a short token (free text becomes `_OTHER`) and at most
    /// [`MAX_ERROR_TYPES`](crate::MAX_ERROR_TYPES) distinct values are kept, so a
    /// label cannot be minted per message.
    pub fn set_error(&mut self, error_type: impl Into<String>) {
        let raw = error_type.into();
        let t = self.tel.error_type(&raw);
        spans::record_error(&self.span, &t, &t);
        self.error_type = Some(t.to_string());
    }

    /// Runs `f` inside the `process` span.
    ///
    /// ```no_run
    /// # fn f(m: &baker_otel_nats::Traced<async_nats::Message>) { m.in_scope(|| tracing::info!("handled")); }
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.span.in_scope(f)
    }

    /// Instruments `fut` with the `process` span.
    ///
    /// ```no_run
    /// # async fn f(m: &baker_otel_nats::Traced<async_nats::Message>) { m.instrument(async { tracing::info!("handled") }).await; }
    /// ```
    pub fn instrument<F: Future>(&self, fut: F) -> tracing::instrument::Instrumented<F> {
        fut.instrument(self.span.clone())
    }

    /// Records `messaging.process.duration` now instead of on drop (idempotent).
    ///
    /// ```no_run
    /// # fn f(mut m: baker_otel_nats::Traced<async_nats::Message>) { m.finish(); }
    /// ```
    pub fn finish(&mut self) {
        self.record_duration();
    }

    fn record_duration(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mut attrs = Vec::with_capacity(5);
        attrs.push(system());
        attrs.push(KeyValue::new("messaging.operation.name", "process"));
        attrs.push(KeyValue::new(
            "messaging.destination.name",
            self.dest.clone(),
        ));
        if let Some(g) = &self.group {
            attrs.push(KeyValue::new("messaging.consumer.group.name", g.clone()));
        }
        if let Some(e) = &self.error_type {
            attrs.push(KeyValue::new("error.type", e.clone()));
        }
        self.tel
            .inst
            .process_duration
            .record(self.start.elapsed().as_secs_f64(), &attrs);
    }
}

impl<M> std::ops::Deref for Traced<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.message
    }
}

impl<M> Drop for Traced<M> {
    fn drop(&mut self) {
        self.record_duration();
    }
}

pin_project_lite::pin_project! {
    /// A core NATS subscription yielding [`Traced`] messages. Created by
    /// [`TracedClient::subscribe`](crate::TracedClient::subscribe) /
    /// [`queue_subscribe`](crate::TracedClient::queue_subscribe) or [`TracedSubscriber::new`].
    ///
    /// ```no_run
    /// # async fn f(sub: async_nats::Subscriber) {
    /// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
    /// let traced = baker_otel_nats::TracedSubscriber::new(sub, Some("workers".into()), nats);
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct TracedSubscriber {
        #[pin]
        inner: async_nats::Subscriber,
        group: Option<String>,
        tel: NatsTelemetry,
    }
}

impl TracedSubscriber {
    /// Wraps `subscriber`; `queue_group` labels `messaging.consumer.group.name`.
    ///
    /// ```no_run
    /// # async fn f(sub: async_nats::Subscriber) {
    /// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
    /// let traced = baker_otel_nats::TracedSubscriber::new(sub, None, nats);
    /// # }
    /// ```
    pub fn new(
        subscriber: async_nats::Subscriber,
        queue_group: Option<String>,
        tel: NatsTelemetry,
    ) -> Self {
        Self {
            inner: subscriber,
            group: queue_group,
            tel,
        }
    }

    /// The wrapped subscriber (e.g. to unsubscribe).
    ///
    /// ```no_run
    /// # async fn f(mut s: baker_otel_nats::TracedSubscriber) { let _ = s.inner_mut().unsubscribe().await; }
    /// ```
    pub fn inner_mut(&mut self) -> &mut async_nats::Subscriber {
        &mut self.inner
    }
}

impl Stream for TracedSubscriber {
    type Item = Traced<async_nats::Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let msg = ready!(this.inner.poll_next(cx));
        Poll::Ready(msg.map(|m| Traced::new(m, this.group.clone(), this.tel.clone())))
    }
}

pin_project_lite::pin_project! {
    /// A JetStream message stream (pull consumer `messages()`/`fetch()`/`batch()`, push consumer
    /// `messages()`) yielding [`Traced`] JetStream messages; errors pass through unchanged.
    ///
    /// ```no_run
    /// # async fn f(consumer: async_nats::jetstream::consumer::PullConsumer) -> Result<(), async_nats::Error> {
    /// use futures_util::StreamExt;
    /// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
    /// let mut messages = baker_otel_nats::TracedMessages::new(consumer.messages().await?, nats);
    /// while let Some(msg) = messages.next().await {
    ///     let msg = msg?;
    ///     msg.ack().await?;
    /// }
    /// # Ok(()) }
    /// ```
    #[derive(Debug)]
    pub struct TracedMessages<S> {
        #[pin]
        inner: S,
        tel: NatsTelemetry,
    }
}

impl<S> TracedMessages<S> {
    /// Wraps a stream of `Result<jetstream::Message, E>`.
    ///
    /// ```no_run
    /// # async fn f(c: async_nats::jetstream::consumer::PullConsumer) -> Result<(), Box<dyn std::error::Error>> {
    /// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
    /// let m = baker_otel_nats::TracedMessages::new(c.messages().await?, nats);
    /// # Ok(()) }
    /// ```
    pub fn new(inner: S, tel: NatsTelemetry) -> Self {
        Self { inner, tel }
    }
}

impl<S, E> Stream for TracedMessages<S>
where
    S: Stream<Item = Result<async_nats::jetstream::Message, E>>,
{
    type Item = Result<Traced<async_nats::jetstream::Message>, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let item = ready!(this.inner.poll_next(cx));
        Poll::Ready(item.map(|r| r.map(|m| Traced::new(m, None, this.tel.clone()))))
    }
}
