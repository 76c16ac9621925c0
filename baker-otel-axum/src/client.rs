//! Outbound propagation: [`OtelClientLayer`] for any `Service<http::Request<B>>` client.

use crate::carrier::HeaderInjector;
use crate::request::{known_method, url_without_query};
use baker_otel::propagation::{Field, OutboundPolicy, Propagation};
use baker_otel::OpenTelemetrySpanExt;
use baker_otel::TelemetryHandle;
use http::{HeaderMap, Method, Request, Response};
use opentelemetry::Context;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_REQUEST_RESEND_COUNT,
    HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};
use tracing::field::Empty;

/// Target of the client spans.
pub const CLIENT_SPAN_TARGET: &str = "baker_otel_axum::client";

/// Tower layer for HTTP *clients*: makes a CLIENT span `{METHOD}` per request (child of the
/// current span) and injects its context (`traceparent`, `tracestate`, `baggage` with the
/// Baker ids) into the request headers with the hub's propagation, **as the
/// [`OutboundPolicy`] allows for the request's host**.
///
/// By default trace context goes to every host and baggage only to internal hosts (loopback
/// and private addresses, single-label names, `.svc`/`.cluster.local`/`.internal`/`.local`
/// domains): a call to an LLM provider or any third-party API never carries baggage — which,
/// behind a public endpoint, may have come from a client. Change it with
/// [`outbound_policy`](Self::outbound_policy):
///
/// ```
/// use baker_otel::propagation::{Destinations, OutboundPolicy};
/// # let capture = baker_otel::testing::Capture::new();
/// # let telemetry = capture.telemetry();
/// let layer = baker_otel_axum::OtelClientLayer::new(&telemetry).outbound_policy(
///     OutboundPolicy::default()
///         .baggage_to(Destinations::internal().and_hosts(["tools.partner.example"]))
///         .trace_context_to(Destinations::internal()),
/// );
/// # let _ = layer;
/// ```
///
/// A field the policy refuses to the request's host is **removed** from the request, also when
/// the caller set it (a `baggage` or `traceparent` header forwarded from an inbound request).
///
/// **Redirects**: the policy is evaluated for the host of each request that passes through the
/// layer. A client below it that follows redirects by itself (reqwest's default, or tower-http's
/// `FollowRedirect` placed *inside* this layer) re-sends the same headers to whatever host a
/// `Location` names. Put `FollowRedirectLayer` **outside** this layer, so that every hop passes
/// through it, over a transport that does not follow redirects (reqwest:
/// `redirect(reqwest::redirect::Policy::none())`) — or use
/// `OtelClientLayer::reqwest_client` (feature `reqwest`), which follows redirects itself:
///
/// ```ignore
/// let client = ServiceBuilder::new()
///     .layer(tower_http::follow_redirect::FollowRedirectLayer::new()) // outside: every hop …
///     .layer(baker_otel_axum::OtelClientLayer::new(&telemetry))      // … gets its own policy
///     .service(transport_that_follows_no_redirect);
/// ```
///
/// Attributes: `http.request.method`, `server.address`, `server.port`, `url.full` (without
/// user info, query or fragment), `http.request.resend_count` (redirect hops after the first
/// request, `reqwest_client` only), `http.response.status_code`, `error.type` (status code for
/// responses ≥ 400, the error's type name for transport errors).
///
/// ```no_run
/// use tower::{Service, ServiceBuilder, ServiceExt};
/// # async fn demo<C>(client: C) where C: Service<http::Request<String>, Response = http::Response<String>> {
/// let telemetry = baker_otel::init().unwrap();
/// let mut client = ServiceBuilder::new()
///     .layer(baker_otel_axum::OtelClientLayer::new(&telemetry))
///     .service(client);
/// let req = http::Request::get("http://extension:8080/v1/tool").body(String::new()).unwrap();
/// let _res = client.ready().await.ok().unwrap().call(req).await;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct OtelClientLayer {
    pub(crate) propagation: Propagation,
    pub(crate) policy: std::sync::Arc<OutboundPolicy>,
}

impl OtelClientLayer {
    /// The layer, propagating with `telemetry`'s propagation.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _layer = baker_otel_axum::OtelClientLayer::new(&telemetry);
    /// ```
    pub fn new(telemetry: &TelemetryHandle) -> Self {
        Self {
            propagation: telemetry.propagation().clone(),
            policy: std::sync::Arc::new(OutboundPolicy::default()),
        }
    }

    /// Replaces the outbound propagation policy (default [`OutboundPolicy::default`]: trace
    /// context everywhere, baggage to internal hosts only).
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelClientLayer::new(&telemetry)
    ///     .outbound_policy(baker_otel::propagation::OutboundPolicy::everywhere());
    /// ```
    #[must_use]
    pub fn outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.policy = std::sync::Arc::new(policy);
        self
    }

    /// The outbound propagation policy.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let layer = baker_otel_axum::OtelClientLayer::new(&telemetry);
    /// assert!(!layer.policy().sends_baggage_to(Some("api.openai.com")));
    /// ```
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }
}

impl<S> tower_layer::Layer<S> for OtelClientLayer {
    type Service = OtelClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelClientService {
            inner,
            propagation: self.propagation.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// The service produced by [`OtelClientLayer`].
///
/// ```
/// use tower_layer::Layer;
/// # let capture = baker_otel::testing::Capture::new();
/// # let telemetry = capture.telemetry();
/// let svc = baker_otel_axum::OtelClientLayer::new(&telemetry).layer(tower::service_fn(|_req: http::Request<String>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// }));
/// # let _: baker_otel_axum::OtelClientService<_> = svc;
/// ```
#[derive(Debug, Clone)]
pub struct OtelClientService<S> {
    inner: S,
    propagation: Propagation,
    policy: std::sync::Arc<OutboundPolicy>,
}

/// Creates the CLIENT span for an outgoing request; `resend` is the ordinal of a re-sent
/// request (a redirect hop: `http.request.resend_count`, absent on the first send).
pub(crate) fn client_span(
    method: &Method,
    host: Option<&str>,
    port: Option<u16>,
    url_full: Option<&str>,
    resend: Option<u32>,
) -> tracing::Span {
    let known = known_method(method);
    tracing::info_span!(
        target: CLIENT_SPAN_TARGET,
        "HTTP client request",
        otel.name = known.unwrap_or("HTTP"),
        otel.kind = "client",
        { HTTP_REQUEST_METHOD } = known.unwrap_or("_OTHER"),
        { HTTP_REQUEST_METHOD_ORIGINAL } = known.is_none().then(|| method.as_str()),
        { SERVER_ADDRESS } = host,
        // i64, not u16: integers go to OTLP as ints only from i64 (u64 becomes a string).
        { SERVER_PORT } = port.map(i64::from),
        { URL_FULL } = url_full,
        { HTTP_REQUEST_RESEND_COUNT } = resend.map(i64::from),
        { HTTP_RESPONSE_STATUS_CODE } = Empty,
        { ERROR_TYPE } = Empty,
        otel.status_code = Empty,
    )
}

/// Injects the span's context (or the current one when the span is disabled) into `headers`:
/// the fields `allowed` accepts are written, the others removed (also when the caller set
/// them, e.g. forwarded from an inbound request).
pub(crate) fn inject(
    propagation: &Propagation,
    allowed: &dyn Fn(Field) -> bool,
    span: &tracing::Span,
    headers: &mut HeaderMap,
) {
    let cx = if span.is_disabled() {
        Context::current()
    } else {
        span.context()
    };
    propagation.inject_allowed(&cx, allowed, &mut HeaderInjector(headers));
}

/// Records the response status (errors from 400 up, as for every client span).
pub(crate) fn record_status(span: &tracing::Span, status: http::StatusCode) {
    span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
    if status.is_client_error() || status.is_server_error() {
        span.record(ERROR_TYPE, status.as_str());
        span.record("otel.status_code", "ERROR");
    }
}

/// Records a transport error.
pub(crate) fn record_error(span: &tracing::Span, error_type: &str) {
    span.record(ERROR_TYPE, error_type);
    span.record("otel.status_code", "ERROR");
}

impl<S, B, RB> tower_service::Service<Request<B>> for OtelClientService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = ClientFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let uri = req.uri();
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        let url = url_without_query(uri);
        let span = client_span(req.method(), uri.host(), port, url.as_deref(), None);
        let host = req.uri().host().map(str::to_owned);
        let policy = &self.policy;
        inject(
            &self.propagation,
            &|f| policy.allows(f, host.as_deref()),
            &span,
            req.headers_mut(),
        );
        let inner = {
            let _e = span.enter();
            self.inner.call(req)
        };
        ClientFuture { inner, span }
    }
}

pin_project! {
    /// Response future of [`OtelClientService`].
    pub struct ClientFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
    }
}

impl<F> fmt::Debug for ClientFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientFuture")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F, RB, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let poll = {
            let _e = this.span.enter();
            this.inner.poll(cx)
        };
        let out = ready!(poll);
        match &out {
            Ok(res) => record_status(this.span, res.status()),
            Err(_) => record_error(this.span, std::any::type_name::<E>()),
        }
        // End the span now, not when the caller drops the future.
        drop(std::mem::replace(this.span, tracing::Span::none()));
        Poll::Ready(out)
    }
}
