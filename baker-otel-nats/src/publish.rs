//! Traced publishing: [`TracedClient`] (core NATS) and [`TracedJetStream`].

use crate::spans::{self, Op, MSG_ID_HEADER};
use crate::subject::destination_name;
use crate::{propagation, NatsTelemetry, TracedSubscriber};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::subject::ToSubject;
use async_nats::{Client, HeaderMap, Message, PublishError, RequestError, SubscribeError};
use bytes::Bytes;
use opentelemetry::trace::TraceContextExt;
use std::time::Instant;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A core NATS [`Client`] that traces publishes and requests and propagates context in headers.
///
/// Every publish gets a PRODUCER span `send {subject}` (child of the current span) whose
/// context is injected into the headers, merged with the caller's. Errors set the span status
/// to error with `error.type` and are returned unchanged.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = baker_otel_nats::NatsTelemetry::new().client(async_nats::connect("127.0.0.1:4222").await?);
/// client.publish("jobs.summarise", "{}".into()).await?;
/// let reply = client.request("svc.echo", "hi".into()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TracedClient {
    client: Client,
    tel: NatsTelemetry,
}

fn msg_id(headers: &HeaderMap) -> Option<&str> {
    crate::HeaderExtractor(headers).value(MSG_ID_HEADER)
}

impl TracedClient {
    /// Wraps `client`, recording into `tel`'s instruments.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), async_nats::ConnectError> {
    /// let c = async_nats::connect("127.0.0.1:4222").await?;
    /// let traced = baker_otel_nats::TracedClient::new(c, baker_otel_nats::NatsTelemetry::new());
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

    /// Publishes with the caller's `headers` plus the trace context (which replaces any
    /// `traceparent`/`tracestate`/`baggage` already present).
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
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        let subject = subject.to_subject();
        let dest = destination_name(&subject);
        let span = spans::client_span(Op::Publish, dest, payload.len(), msg_id(&headers));
        propagation::inject_context(&spans::context_of(&span), &mut headers);
        let start = Instant::now();
        let fut = if headers.is_empty() {
            futures_util::future::Either::Left(self.client.publish(subject.clone(), payload))
        } else {
            futures_util::future::Either::Right(self.client.publish_with_headers(
                subject.clone(),
                headers,
                payload,
            ))
        };
        let res = fut.instrument(span.clone()).await;
        let err = res.as_ref().err().map(|e| {
            let t = spans::error_type(e.kind());
            spans::record_error(&span, &t, e);
            t
        });
        spans::finish_send(&self.tel.inst, Op::Publish, dest, start, err.as_deref());
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
        let dest = destination_name(&subject);
        let span = spans::client_span(Op::Request, dest, payload.len(), msg_id(&headers));
        propagation::inject_context(&spans::context_of(&span), &mut headers);
        let start = Instant::now();
        let res = self
            .client
            .request_with_headers(subject.clone(), headers, payload)
            .instrument(span.clone())
            .await;
        let err = match &res {
            Ok(reply) => {
                let cx = propagation::extract(reply.headers.as_ref());
                let remote = cx.span().span_context().clone();
                if remote.is_valid() {
                    span.add_link(remote);
                }
                None
            }
            Err(e) => {
                let t = spans::error_type(e.kind());
                spans::record_error(&span, &t, e);
                Some(t)
            }
        };
        spans::finish_send(&self.tel.inst, Op::Request, dest, start, err.as_deref());
        res
    }

    /// Replies to `request` (publishes to its reply subject) with the current context, so the
    /// reply carries the trace back to the requester. Without a reply subject nothing is sent
    /// and an `InvalidSubject` error is returned.
    ///
    /// ```no_run
    /// # async fn f(c: &baker_otel_nats::TracedClient, m: async_nats::Message) -> Result<(), async_nats::PublishError> {
    /// c.reply(&m, "pong".into()).await
    /// # }
    /// ```
    pub async fn reply(&self, request: &Message, payload: Bytes) -> Result<(), PublishError> {
        match &request.reply {
            Some(reply) => self.publish(reply.clone(), payload).await,
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

/// A JetStream [`Context`](async_nats::jetstream::Context) whose publishes are traced like
/// [`TracedClient::publish`]. The span covers sending; awaiting the returned
/// [`PublishAckFuture`] (the server's ack) is left to the caller, unchanged.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("127.0.0.1:4222").await?;
/// let js = baker_otel_nats::NatsTelemetry::new().jetstream(async_nats::jetstream::new(client));
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
    /// let js = async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await?);
    /// let _t = baker_otel_nats::TracedJetStream::new(js, baker_otel_nats::NatsTelemetry::new());
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

    /// Publishes to a stream subject with trace context headers.
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
    ) -> Result<PublishAckFuture, async_nats::jetstream::context::PublishError> {
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
    ) -> Result<PublishAckFuture, async_nats::jetstream::context::PublishError> {
        let subject = subject.to_subject();
        let dest = destination_name(&subject);
        let span = spans::client_span(Op::Publish, dest, payload.len(), msg_id(&headers));
        propagation::inject_context(&spans::context_of(&span), &mut headers);
        let start = Instant::now();
        let res = self
            .context
            .publish_with_headers(subject.clone(), headers, payload)
            .instrument(span.clone())
            .await;
        let err = res.as_ref().err().map(|e| {
            let t = spans::error_type(e.kind());
            spans::record_error(&span, &t, e);
            t
        });
        spans::finish_send(&self.tel.inst, Op::Publish, dest, start, err.as_deref());
        res
    }
}
