//! Traced core NATS publishing and requests: [`TracedClient`].

use crate::outcome::SendGuard;
use crate::policy::Destination;
use crate::spans::{self, Op};
use crate::{propagation, NatsTelemetry, TracedSubscriber};
use async_nats::subject::ToSubject;
use async_nats::{Client, HeaderMap, Message, PublishError, RequestError, SubscribeError};
use baker_otel::OpenTelemetrySpanExt;
use bytes::Bytes;
use opentelemetry::trace::TraceContextExt;
use tracing::Instrument;

/// A core NATS [`Client`] that traces publishes and requests and propagates context in headers.
///
/// Every publish gets a PRODUCER span `send {subject}` (child of the current span) whose
/// context is injected into the headers, merged with the caller's. Errors set the span status
/// to error with `error.type` and are returned unchanged. `messaging.client.operation.duration`
/// and `messaging.client.sent.messages` are recorded once per call, with `error_type` on
/// failure. A call whose future is dropped before it completes (e.g. by
/// `tokio::time::timeout` while async-nats applies back-pressure) is recorded as failed with
/// `error.type = "cancelled"`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
/// let client = nats.client(async_nats::connect("127.0.0.1:4222").await?);
/// client.publish("jobs.summarise", "{}".into()).await?;
/// let reply = client.request("svc.echo", "hi".into()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TracedClient {
    client: Client,
    tel: NatsTelemetry,
}

impl TracedClient {
    /// Wraps `client`, recording into `tel`'s instruments.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), async_nats::ConnectError> {
    /// # let nats = baker_otel_nats::NatsTelemetry::new(baker_otel::testing::Capture::new().telemetry());
    /// let c = async_nats::connect("127.0.0.1:4222").await?;
    /// let traced = baker_otel_nats::TracedClient::new(c, nats);
    /// # Ok(()) }
    /// ```
    pub fn new(client: Client, tel: NatsTelemetry) -> Self {
        Self { client, tel }
    }

    /// The wrapped client (untraced operations).
    ///
    /// ```no_run
    /// # fn f(c: &baker_otel_nats::TracedClient) { let _raw: &async_nats::Client = c.inner(); }
    /// ```
    pub fn inner(&self) -> &Client {
        &self.client
    }

    /// The telemetry handle.
    ///
    /// ```no_run
    /// # fn f(c: &baker_otel_nats::TracedClient) { let _t = c.telemetry(); }
    /// ```
    pub fn telemetry(&self) -> &NatsTelemetry {
        &self.tel
    }

    /// Publishes `payload` with trace context headers.
    ///
    /// ```no_run
    /// # async fn f(c: &baker_otel_nats::TracedClient) -> Result<(), async_nats::PublishError> {
    /// c.publish("events.data", "payload".into()).await
    /// # }
    /// ```
    pub async fn publish<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        self.publish_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// Publishes with the caller's `headers` plus the trace context, as the telemetry's
    /// outbound policy allows for `subject` (see
    /// [`NatsTelemetry::baggage_to_subjects`](crate::NatsTelemetry::baggage_to_subjects)): an
    /// allowed field replaces any `traceparent`/`tracestate`/`baggage` already present, a
    /// refused one is removed from the headers.
    ///
    /// ```no_run
    /// # async fn f(c: &baker_otel_nats::TracedClient) -> Result<(), async_nats::PublishError> {
    /// let mut headers = async_nats::HeaderMap::new();
    /// headers.insert("Nats-Msg-Id", "job-42");
    /// c.publish_with_headers("events.data", headers, "payload".into()).await
    /// # }
    /// ```
    pub async fn publish_with_headers<S: ToSubject>(
        &self,
        subject: S,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        let subject = subject.to_subject();
        self.publish_to(&subject, false, headers, payload).await
    }

    /// A traced publish to `subject`; `reply_to_untrusted`: it answers a request that arrived
    /// on an untrusted subject (no baggage).
    async fn publish_to(
        &self,
        subject: &async_nats::Subject,
        reply_to_untrusted: bool,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        let to = Destination {
            subject,
            reply_to_untrusted,
        };
        let guard = SendGuard::begin(&self.tel, Op::Publish, to, payload.len(), &mut headers);
        let span = guard.span().clone();
        let fut = if headers.is_empty() {
            futures_util::future::Either::Left(self.client.publish(subject.clone(), payload))
        } else {
            futures_util::future::Either::Right(self.client.publish_with_headers(
                subject.clone(),
                headers,
                payload,
            ))
        };
        let res = fut.instrument(span).await;
        match &res {
            Ok(()) => guard.succeed(),
            Err(e) => guard.fail(&spans::error_type(e.kind()), e),
        }
        res
    }

    /// Sends a request: CLIENT span `request {subject}`; the responder's `process` span becomes
    /// its child. If the reply carries trace context, it is linked from the request span.
    ///
    /// ```no_run
    /// # async fn f(c: &baker_otel_nats::TracedClient) -> Result<(), async_nats::RequestError> {
    /// let reply = c.request("svc.echo", "hi".into()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn request<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<Message, RequestError> {
        self.request_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// [`request`](Self::request) with the caller's headers merged in.
    ///
    /// ```no_run
    /// # async fn f(c: &baker_otel_nats::TracedClient) -> Result<(), async_nats::RequestError> {
    /// let reply = c.request_with_headers("svc.echo", async_nats::HeaderMap::new(), "hi".into()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn request_with_headers<S: ToSubject>(
        &self,
        subject: S,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<Message, RequestError> {
        let subject = subject.to_subject();
        let guard = SendGuard::begin(
            &self.tel,
            Op::Request,
            Destination::publish(&subject),
            payload.len(),
            &mut headers,
        );
        let span = guard.span().clone();
        let res = self
            .client
            .request_with_headers(subject.clone(), headers, payload)
            .instrument(span)
            .await;
        match &res {
            Ok(reply) => {
                let cx = propagation::extract(&self.tel.propagation, reply.headers.as_ref());
                let remote = cx.span().span_context().clone();
                if remote.is_valid() {
                    guard.span().add_link(remote);
                }
                guard.succeed();
            }
            Err(e) => guard.fail(&spans::error_type(e.kind()), e),
        }
        res
    }

    /// Replies to `request` (publishes to its reply subject) with the current context, so the
    /// reply carries the trace back to the requester. Without a reply subject nothing is sent
    /// and an `InvalidSubject` error is returned.
    ///
    /// The requester chose the reply subject: if `request` arrived on an
    /// [untrusted subject](crate::NatsTelemetry::untrusted_subjects), the reply carries **no
    /// baggage** (the ids the handler works under stay inside), only trace context as the
    /// policy allows. Otherwise the outbound policy for the reply subject applies.
    ///
    /// ```no_run
    /// # async fn f(c: &baker_otel_nats::TracedClient, m: async_nats::Message) -> Result<(), async_nats::PublishError> {
    /// c.reply(&m, "pong".into()).await
    /// # }
    /// ```
    pub async fn reply(&self, request: &Message, payload: Bytes) -> Result<(), PublishError> {
        let untrusted = self.tel.untrusted.covers(&request.subject);
        match &request.reply {
            Some(reply) => {
                self.publish_to(reply, untrusted, HeaderMap::new(), payload)
                    .await
            }
            None => Err(PublishError::new(
                async_nats::client::PublishErrorKind::InvalidSubject,
            )),
        }
    }

    /// Subscribes; messages come with a CONSUMER `process {subject}` span.
    ///
    /// ```no_run
    /// # async fn f(c: &baker_otel_nats::TracedClient) -> Result<(), async_nats::SubscribeError> {
    /// let mut sub = c.subscribe("events.>").await?;
    /// # Ok(()) }
    /// ```
    pub async fn subscribe<S: ToSubject>(
        &self,
        subject: S,
    ) -> Result<TracedSubscriber, SubscribeError> {
        let sub = self.client.subscribe(subject).await?;
        Ok(TracedSubscriber::new(sub, None, self.tel.clone()))
    }

    /// Queue-subscribes; `messaging.consumer.group.name` is the queue group.
    ///
    /// ```no_run
    /// # async fn f(c: &baker_otel_nats::TracedClient) -> Result<(), async_nats::SubscribeError> {
    /// let mut sub = c.queue_subscribe("jobs.>", "workers".into()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn queue_subscribe<S: ToSubject>(
        &self,
        subject: S,
        queue_group: String,
    ) -> Result<TracedSubscriber, SubscribeError> {
        let sub = self
            .client
            .queue_subscribe(subject, queue_group.clone())
            .await?;
        Ok(TracedSubscriber::new(
            sub,
            Some(queue_group),
            self.tel.clone(),
        ))
    }
}

/// Wrapping, where the wrapper lives (`telemetry` does not know the wrappers).
impl NatsTelemetry {
    /// Wraps a core NATS client.
    ///
    /// ```no_run
    /// # async fn run(nats: baker_otel_nats::NatsTelemetry) -> Result<(), async_nats::ConnectError> {
    /// let client = nats.client(async_nats::connect("127.0.0.1:4222").await?);
    /// # Ok(()) }
    /// ```
    pub fn client(&self, client: async_nats::Client) -> TracedClient {
        TracedClient::new(client, self.clone())
    }
}
