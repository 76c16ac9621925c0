//! Traced JetStream publishing: [`TracedJetStream`] and its [`TracedPublishAck`].

use crate::outcome::SendGuard;
use crate::policy::Destination;
use crate::spans::{self, Op};
use crate::NatsTelemetry;
use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::publish::PublishAck;
use async_nats::subject::ToSubject;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::future::IntoFuture;
use tracing::Instrument;

/// A JetStream [`Context`](async_nats::jetstream::Context) whose publishes are traced like
/// [`TracedClient::publish`](crate::TracedClient::publish), through the server's ack.
///
/// A publish returns a [`TracedPublishAck`] (where async-nats returns a
/// [`PublishAckFuture`]); awaiting it yields the same `Result<PublishAck, PublishError>`, so
/// `js.publish(..).await?.await?` works unchanged. The PRODUCER span `send {subject}` stays
/// open until the ack resolves, and `messaging.client.operation.duration` (send + ack) and
/// `messaging.client.sent.messages` are recorded **once, when the ack resolves**:
///
/// | outcome | span | metrics `error_type` |
/// |---|---|---|
/// | ack received | no status | none |
/// | send or ack failed (no stream, timeout, server down, …) | ERROR, `error.type` = error kind (e.g. `StreamNotFound`, `TimedOut`) | the error kind |
/// | `publish` future or ack future dropped while pending | ERROR, `error.type = "cancelled"` | `cancelled` |
/// | [`TracedPublishAck`] dropped without being awaited | no status (outcome unknown) | none (duration = send step) |
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
/// let client = async_nats::connect("127.0.0.1:4222").await?;
/// let js = nats.jetstream(async_nats::jetstream::new(client));
/// let ack = js.publish("jobs.summarise", "{}".into()).await?.await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TracedJetStream {
    context: async_nats::jetstream::Context,
    tel: NatsTelemetry,
}

impl TracedJetStream {
    /// Wraps `context`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), async_nats::ConnectError> {
    /// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
    /// let js = async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await?);
    /// let _t = baker_otel_nats::TracedJetStream::new(js, nats);
    /// # Ok(()) }
    /// ```
    pub fn new(context: async_nats::jetstream::Context, tel: NatsTelemetry) -> Self {
        Self { context, tel }
    }

    /// The wrapped context (streams, consumers, untraced operations).
    ///
    /// ```no_run
    /// # fn f(js: &baker_otel_nats::TracedJetStream) { let _c = js.inner(); }
    /// ```
    pub fn inner(&self) -> &async_nats::jetstream::Context {
        &self.context
    }

    /// The telemetry handle.
    ///
    /// ```no_run
    /// # fn f(js: &baker_otel_nats::TracedJetStream) { let _t = js.telemetry(); }
    /// ```
    pub fn telemetry(&self) -> &NatsTelemetry {
        &self.tel
    }

    /// Publishes to a stream subject with trace context headers; await the returned
    /// [`TracedPublishAck`] for the server's ack.
    ///
    /// ```no_run
    /// # async fn f(js: &baker_otel_nats::TracedJetStream) -> Result<(), Box<dyn std::error::Error>> {
    /// js.publish("jobs.x", "{}".into()).await?.await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<TracedPublishAck, PublishError> {
        self.publish_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// Publishes with the caller's headers merged with the trace context; `Nats-Msg-Id`
    /// becomes `messaging.message.id`.
    ///
    /// ```no_run
    /// # async fn f(js: &baker_otel_nats::TracedJetStream) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut h = async_nats::HeaderMap::new();
    /// h.insert("Nats-Msg-Id", "job-42");
    /// js.publish_with_headers("jobs.x", h, "{}".into()).await?.await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_with_headers<S: ToSubject>(
        &self,
        subject: S,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<TracedPublishAck, PublishError> {
        let subject = subject.to_subject();
        let mut guard = SendGuard::begin(
            &self.tel,
            Op::Publish,
            Destination::publish(&subject),
            payload.len(),
            &mut headers,
        );
        let span = guard.span().clone();
        let res = self
            .context
            .publish_with_headers(subject.clone(), headers, payload)
            .instrument(span)
            .await;
        match res {
            Ok(ack) => {
                guard.sent();
                Ok(TracedPublishAck { ack, guard })
            }
            Err(e) => {
                guard.fail(&spans::error_type(e.kind()), &e);
                Err(e)
            }
        }
    }
}

/// The pending server ack of a [`TracedJetStream`] publish; await it like async-nats's
/// [`PublishAckFuture`] (it implements [`IntoFuture`] with the same output).
///
/// It keeps the publish's `send` span open until the ack resolves, then records the outcome
/// on the span (ERROR status and `error.type` on failure) and in the metrics (see
/// [`TracedJetStream`]). Dropping it without awaiting is fire-and-forget, as with
/// async-nats (its background acker still consumes the ack): the span ends without a status
/// and the publish is counted as sent, since its outcome is unknown.
///
/// ```no_run
/// # async fn f(js: &baker_otel_nats::TracedJetStream) -> Result<(), Box<dyn std::error::Error>> {
/// let pending: baker_otel_nats::TracedPublishAck = js.publish("jobs.x", "{}".into()).await?;
/// let ack = pending.await?;
/// println!("stored as {} #{}", ack.stream, ack.sequence);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TracedPublishAck {
    ack: PublishAckFuture,
    guard: SendGuard,
}

impl TracedPublishAck {
    /// The untraced async-nats ack future. The span ends now, without a status, and the
    /// publish is counted as sent (as if this were dropped unawaited).
    ///
    /// ```no_run
    /// # async fn f(js: &baker_otel_nats::TracedJetStream) -> Result<(), Box<dyn std::error::Error>> {
    /// let raw: async_nats::jetstream::context::PublishAckFuture =
    ///     js.publish("jobs.x", "{}".into()).await?.into_inner();
    /// # Ok(()) }
    /// ```
    pub fn into_inner(self) -> PublishAckFuture {
        self.ack
    }
}

impl IntoFuture for TracedPublishAck {
    type Output = Result<PublishAck, PublishError>;
    type IntoFuture = BoxFuture<'static, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let Self { ack, mut guard } = self;
        guard.awaiting();
        Box::pin(async move {
            let span = guard.span().clone();
            let res = ack.into_future().instrument(span).await;
            match &res {
                Ok(_) => guard.succeed(),
                Err(e) => guard.fail(&spans::error_type(e.kind()), e),
            }
            res
        })
    }
}

/// Wrapping, where the wrapper lives (`telemetry` does not know the wrappers).
impl NatsTelemetry {
    /// Wraps a JetStream context.
    ///
    /// ```no_run
    /// # async fn run(nats: baker_otel_nats::NatsTelemetry) -> Result<(), async_nats::ConnectError> {
    /// let client = async_nats::connect("127.0.0.1:4222").await?;
    /// let js = nats.jetstream(async_nats::jetstream::new(client));
    /// # Ok(()) }
    /// ```
    pub fn jetstream(&self, context: async_nats::jetstream::Context) -> TracedJetStream {
        TracedJetStream::new(context, self.clone())
    }
}
