//! [`OtelService`]: the per-request logic of [`OtelLayer`](crate::OtelLayer).

use crate::carrier::{trace_id_value, traceresponse_value, HeaderExtractor};
use crate::layer::Shared;
use crate::metrics::Labels;
use crate::request::{host_port, known_method, protocol_version, scheme};
use axum::extract::MatchedPath;
use http::{Request, Response};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{Context, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_SCHEME,
    USER_AGENT_ORIGINAL,
};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context as TaskContext, Poll};
use std::time::Instant;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Target of the server spans (filter them with `RUST_LOG=baker_otel_axum=…`).
pub const SERVER_SPAN_TARGET: &str = "baker_otel_axum::server";

/// The service produced by [`OtelLayer`](crate::OtelLayer). See the layer for behaviour.
///
/// ```
/// use tower_layer::Layer;
/// let svc: baker_otel_axum::OtelService<_> = baker_otel_axum::OtelLayer::new()
///     .layer(tower::service_fn(|_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     }));
/// # let _ = svc;
/// ```
#[derive(Debug, Clone)]
pub struct OtelService<S> {
    inner: S,
    shared: Arc<Shared>,
    /// One service instance per axum route: the route template is interned once.
    route: Arc<OnceLock<Arc<str>>>,
}

impl<S> OtelService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            shared,
            route: Arc::new(OnceLock::new()),
        }
    }

    /// The interned route template, without allocating after the first request.
    fn route_value(&self, matched: &str) -> StringValue {
        let cached = self.route.get_or_init(|| Arc::from(matched));
        if cached.as_ref() == matched {
            StringValue::from(cached.clone())
        } else {
            StringValue::from(matched.to_owned())
        }
    }
}

/// `{METHOD} {route}` formatted straight into the span name (one allocation, by the layer).
struct SpanName<'a>(&'static str, Option<&'a str>);

impl fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)?;
        if let Some(r) = self.1 {
            f.write_str(" ")?;
            f.write_str(r)?;
        }
        Ok(())
    }
}

/// Extracts the remote context only when a propagator field is present (no work otherwise).
fn remote_context(headers: &http::HeaderMap) -> Option<Context> {
    let present = opentelemetry::global::get_text_map_propagator(|p| {
        p.fields().any(|f| headers.contains_key(f))
    });
    if !present {
        return None;
    }
    let cx =
        baker_otel::propagation::extract_with_context(&Context::new(), &HeaderExtractor(headers));
    (cx.span().span_context().is_valid() || !cx.baggage().is_empty()).then_some(cx)
}

impl<S, B, RB> tower_service::Service<Request<B>> for OtelService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shared = &self.shared;
        if shared.is_excluded(req.uri().path()) {
            return ResponseFuture {
                inner: self.inner.call(req),
                active: None,
            };
        }
        let start = Instant::now();
        let method = known_method(req.method());
        let scheme = scheme(req.uri());
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let (host, port) = host_port(req.uri(), req.headers());
        let user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let span = tracing::info_span!(
            target: SERVER_SPAN_TARGET,
            "HTTP request",
            otel.name = %SpanName(method.unwrap_or("HTTP"), route),
            otel.kind = "server",
            { HTTP_REQUEST_METHOD } = method.unwrap_or("_OTHER"),
            { HTTP_REQUEST_METHOD_ORIGINAL } = method.is_none().then(|| req.method().as_str()),
            { HTTP_ROUTE } = route,
            { URL_PATH } = req.uri().path(),
            { URL_SCHEME } = scheme,
            { SERVER_ADDRESS } = host,
            { SERVER_PORT } = port,
            { NETWORK_PROTOCOL_VERSION } = protocol_version(req.version()),
            { USER_AGENT_ORIGINAL } = user_agent,
            { HTTP_RESPONSE_STATUS_CODE } = Empty,
            { ERROR_TYPE } = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        );
        let remote = remote_context(req.headers());
        let span_context = if span.is_disabled() {
            remote.map(|cx| cx.span().span_context().clone())
        } else {
            if let Some(cx) = remote {
                let _ = span.set_parent(cx);
            }
            Some(span.context().span().span_context().clone())
        };
        let labels = Labels {
            method: method.unwrap_or("_OTHER"),
            scheme,
            route: route.map(|r| self.route_value(r)),
        };
        if let Some(m) = shared.metrics.get() {
            m.active(labels.method, scheme, 1);
        }
        let active = Active {
            span,
            span_context: span_context.filter(SpanContext::is_valid),
            start,
            shared: shared.clone(),
            labels,
            polling: false,
        };
        let inner = {
            let _e = active.span.enter();
            self.inner.call(req)
        };
        ResponseFuture {
            inner,
            active: Some(active),
        }
    }
}

struct Active {
    span: tracing::Span,
    span_context: Option<SpanContext>,
    start: Instant,
    shared: Arc<Shared>,
    labels: Labels,
    /// True while the inner future is being polled: still true on drop means it panicked.
    polling: bool,
}

impl Active {
    fn finish<RB, E>(self, result: &mut Result<Response<RB>, E>) {
        let mut error: Option<StringValue> = None;
        let mut status_code = None;
        match result {
            Ok(res) => {
                let status = res.status();
                status_code = Some(status.as_u16());
                self.span.record(HTTP_RESPONSE_STATUS_CODE, status.as_u16());
                if status.is_server_error() {
                    self.span.record(ERROR_TYPE, status.as_str());
                    self.span.record("otel.status_code", "ERROR");
                    error = Some(StringValue::from(status.as_str().to_owned()));
                }
                if let Some(sc) = &self.span_context {
                    let headers = res.headers_mut();
                    if let (Some(name), Some(v)) =
                        (&self.shared.trace_id_header, trace_id_value(sc))
                    {
                        headers.insert(name.clone(), v);
                    }
                    if self.shared.traceresponse {
                        if let Some(v) = traceresponse_value(sc) {
                            headers.insert(crate::layer::TRACERESPONSE, v);
                        }
                    }
                }
            }
            Err(_) => {
                let ty = std::any::type_name::<E>();
                self.span.record(ERROR_TYPE, ty);
                self.span.record("otel.status_code", "ERROR");
                error = Some(StringValue::from(ty));
            }
        }
        self.end(status_code, error);
    }

    /// The future was dropped before the inner service answered.
    fn abandon(self) {
        let ty = if self.polling {
            self.span.record("otel.status_code", "ERROR");
            self.span
                .record("otel.status_description", "handler panicked");
            "panic"
        } else {
            "cancelled"
        };
        self.span.record(ERROR_TYPE, ty);
        self.end(None, Some(StringValue::from(ty)));
    }

    fn end(self, status: Option<u16>, error: Option<StringValue>) {
        if let Some(m) = self.shared.metrics.get() {
            m.duration(
                self.start.elapsed().as_secs_f64(),
                &self.labels,
                status,
                error,
            );
            m.active(self.labels.method, self.labels.scheme, -1);
        }
    }
}

pin_project! {
    /// Response future of [`OtelService`]: polls the inner future inside the server span.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        active: Option<Active>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(active) = this.project().active.take() {
                active.abandon();
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(active) = this.active.as_mut() else {
            return this.inner.poll(cx);
        };
        active.polling = true;
        let poll = {
            let _e = active.span.enter();
            this.inner.poll(cx)
        };
        active.polling = false;
        let mut out = ready!(poll);
        if let Some(active) = this.active.take() {
            active.finish(&mut out);
        }
        Poll::Ready(out)
    }
}
