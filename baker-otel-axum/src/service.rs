//! [`OtelService`]: the per-request logic of [`OtelLayer`](crate::OtelLayer).
//!
//! The SERVER span is started with the OpenTelemetry SDK (no `tracing` span), and its
//! [`Context`] is attached while the inner service is called and on every poll of its future.

use crate::carrier::{trace_id_value, traceresponse_value, HeaderExtractor};
use crate::metrics::{Labels, Outcome};
use crate::request::{method_slot, protocol_version, scheme, METHODS, OTHER_METHOD};
use crate::route::RouteState;
use crate::shared::Shared;
use axum::extract::MatchedPath;
use http::{Request, Response};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, StringValue};
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
use std::time::SystemTime;

/// Target of the server spans: `RUST_LOG=baker_otel_axum::server=off` (or any filter that
/// disables it at `INFO`) turns them off.
pub const SERVER_SPAN_TARGET: &str = "baker_otel_axum::server";

/// The service produced by [`OtelLayer`](crate::OtelLayer). See the layer for behaviour.
///
/// ```
/// use tower_layer::Layer;
/// # let capture = baker_otel::testing::Capture::new();
/// # let telemetry = capture.telemetry();
/// let svc: baker_otel_axum::OtelService<_> = baker_otel_axum::OtelLayer::new(&telemetry)
///     .layer(tower::service_fn(|_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     }));
/// # let _ = svc;
/// ```
#[derive(Debug, Clone)]
pub struct OtelService<S> {
    inner: S,
    shared: Arc<Shared>,
    /// The state of the route this instance serves (axum layers each route separately),
    /// resolved in the layer's registry on the first request and shared by the clones.
    route: Arc<OnceLock<Option<Arc<RouteState>>>>,
}

impl<S> OtelService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            shared,
            route: Arc::default(),
        }
    }

    /// The state of `matched` (`None`: beyond the registry's capacity).
    #[inline]
    fn route_state(&self, matched: &str) -> Option<Arc<RouteState>> {
        let cached = self.route.get_or_init(|| self.shared.routes.get(matched));
        match cached {
            Some(st) if st.route().is_some_and(|r| r.as_str() == matched) => Some(st.clone()),
            // A service in front of several routes (e.g. a nested router): look it up.
            _ => self.shared.routes.get(matched),
        }
    }
}

/// Which per-route state a request uses.
enum RouteRef {
    /// No `MatchedPath`: the registry's shared state for unrouted requests.
    Unrouted,
    Route(Arc<RouteState>),
    /// A route beyond the registry's capacity: everything built per request.
    Uncached,
}

impl RouteRef {
    #[inline]
    fn get<'a>(&'a self, shared: &'a Shared) -> Option<&'a RouteState> {
        match self {
            Self::Unrouted => Some(&shared.routes.unrouted),
            Self::Route(st) => Some(st),
            Self::Uncached => None,
        }
    }
}

/// What one pass over the request's header names finds: whether a propagation field is
/// present, and the `User-Agent` and `Host` values (the first of each, as `HeaderMap::get`
/// returns it).
struct HeaderScan<'a> {
    has_fields: bool,
    user_agent: Option<&'a http::HeaderValue>,
    host: Option<&'a http::HeaderValue>,
}

impl<'a> HeaderScan<'a> {
    /// A request carries a handful of headers: comparing their names with `User-Agent`, `Host`
    /// and the two or three field names costs less than hashing each name for a lookup (the
    /// axum bench's docs give the counts); past [`SCAN_HEADERS`] names, the lookups.
    #[inline]
    fn new(shared: &Shared, headers: &'a http::HeaderMap) -> Self {
        let fields = &shared.propagation_fields;
        if headers.keys_len() > SCAN_HEADERS {
            return Self {
                has_fields: fields.iter().any(|f| headers.contains_key(f)),
                user_agent: headers.get(http::header::USER_AGENT),
                host: headers.get(http::header::HOST),
            };
        }
        let mut scan = Self {
            has_fields: false,
            user_agent: None,
            host: None,
        };
        // Iteration yields each name's values in order: `get_or_insert` keeps the first.
        for (name, value) in headers {
            if *name == http::header::HOST {
                scan.host.get_or_insert(value);
            } else if *name == http::header::USER_AGENT {
                scan.user_agent.get_or_insert(value);
            } else if !scan.has_fields && fields.contains(name) {
                scan.has_fields = true;
            }
        }
        scan
    }
}

/// Up to this many distinct header names, [`HeaderScan`] scans them.
const SCAN_HEADERS: usize = 16;

/// Extracts the remote context only when a propagator field is present (no work otherwise).
fn remote_context(
    shared: &Shared,
    headers: &http::HeaderMap,
    scan: &HeaderScan<'_>,
) -> Option<Context> {
    if !scan.has_fields {
        return None;
    }
    let cx = shared
        .propagation
        .extract_with_context(&Context::new(), &HeaderExtractor(headers));
    (cx.span().span_context().is_valid() || !cx.baggage().is_empty()).then_some(cx)
}

/// A public request's inbound context: the client's span context (for a link, never a parent,
/// without its `tracestate`) and a context holding only the allow-listed client baggage (no span:
/// a new root).
fn public_context(
    shared: &Shared,
    headers: &http::HeaderMap,
    scan: &HeaderScan<'_>,
) -> (Option<SpanContext>, Context) {
    if !scan.has_fields {
        return (None, Context::new());
    }
    let extractor = HeaderExtractor(headers);
    let values = baker_otel::propagation::FieldValues::from_extractor(&extractor);
    let keep = |k: &str| shared.baggage_allow.iter().any(|a| a.as_ref() == k);
    let cx = shared
        .propagation
        .extract_values_filtered(&Context::new(), &values, &keep);
    // The link keeps the client's ids and flags, not its `tracestate`: vendor data a client
    // wrote is neither ours to keep nor to export with every request.
    let link = Some(cx.span().span_context())
        .filter(|sc| sc.is_valid())
        .map(|sc| {
            SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags(),
                true,
                opentelemetry::trace::TraceState::NONE,
            )
        });
    let baggage: Vec<opentelemetry::baggage::KeyValueMetadata> = cx
        .baggage()
        .iter()
        .map(|(k, (v, m))| {
            opentelemetry::baggage::KeyValueMetadata::new(k.clone(), v.clone(), m.clone())
        })
        .collect();
    let root = if baggage.is_empty() {
        Context::new()
    } else {
        Context::new().with_baggage(baggage)
    };
    (link, root)
}

/// `url.path`: for a route without parameters, whose template is the path itself, the route's
/// shared `http.route` value (a pointer copy); else a copy of the path (an allocation, and a free
/// when the span is exported or dropped).
#[inline]
fn url_path(path: &str, state: Option<&RouteState>) -> StringValue {
    match state.and_then(RouteState::route) {
        Some(route) if route.as_str() == path => route.clone(),
        _ => StringValue::from(path.to_owned()),
    }
}

/// The server span's callsite (metadata only: the span itself is an OpenTelemetry one), so
/// that `RUST_LOG` and any other `tracing` filter decide whether requests get spans. Built with
/// tracing-core's public callsite API, as `tracing`'s own macros build theirs.
static SERVER_SPAN_META: tracing::Metadata<'static> = tracing::Metadata::new(
    "http server span",
    SERVER_SPAN_TARGET,
    tracing::Level::INFO,
    Some(file!()),
    Some(line!()),
    Some(module_path!()),
    tracing::field::FieldSet::new(&[], tracing_core::identify_callsite!(&SERVER_SPAN_CALLSITE)),
    tracing::metadata::Kind::SPAN.hint(),
);
static SERVER_SPAN_CALLSITE: tracing_core::callsite::DefaultCallsite =
    tracing_core::callsite::DefaultCallsite::new(&SERVER_SPAN_META);

/// Whether the `tracing` filter lets the server span through (`RUST_LOG` keeps control).
///
/// Decided as the `span!` macros decide: by the callsite's cached interest, asking the
/// subscriber only when that interest is "sometimes". (`tracing::enabled!` asks the
/// subscriber on every call, whatever the interest; the axum bench's docs give the cost.)
#[inline]
fn span_enabled() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    const LEVEL: tracing::Level = tracing::Level::INFO;
    if LEVEL > STATIC_MAX_LEVEL || LEVEL > LevelFilter::current() {
        return false;
    }
    let interest = SERVER_SPAN_CALLSITE.interest();
    if interest.is_always() {
        true
    } else if interest.is_never() {
        false
    } else {
        tracing::dispatcher::get_default(|d| d.enabled(&SERVER_SPAN_META))
    }
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
        // One clock for the span's timestamps and the metric: two clock reads per request.
        let start = SystemTime::now();
        let method = method_slot(req.method());
        let scheme = scheme(req.uri());
        let matched = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let route = match matched {
            None => RouteRef::Unrouted,
            Some(m) => self
                .route_state(m)
                .map_or(RouteRef::Uncached, RouteRef::Route),
        };
        let state = route.get(shared);
        let route_value = match (state.and_then(RouteState::route), matched) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(r)) => Some(StringValue::from(r.to_owned())),
            (None, None) => None,
        };
        let public = shared.is_public(
            &crate::shared::RequestHead::new(req.method(), req.uri(), req.headers())
                .with_extensions(req.extensions()),
        );
        let scan = HeaderScan::new(shared, req.headers());
        let (link, remote) = if public {
            let (link, root) = public_context(shared, req.headers(), &scan);
            (link, Some(root))
        } else {
            (None, remote_context(shared, req.headers(), &scan))
        };

        let (cx, recording) = if shared.spans.is_enabled() && span_enabled() {
            let name = match state {
                Some(st) => st.span_name(method),
                None => crate::route::span_name(method, matched),
            };
            let (host, port) = shared.host.split(req.uri(), scan.host);
            let user_agent = scan.user_agent.and_then(|v| v.to_str().ok());
            // On the stack, moved one by one into the span's (recycled) attribute vector; the
            // iterator borrows the array (a by-value array iterator would copy all of it).
            let mut attrs = [
                Some(KeyValue::new(HTTP_REQUEST_METHOD, METHODS[method])),
                (method == OTHER_METHOD).then(|| {
                    KeyValue::new(
                        HTTP_REQUEST_METHOD_ORIGINAL,
                        req.method().as_str().to_owned(),
                    )
                }),
                route_value.clone().map(|r| KeyValue::new(HTTP_ROUTE, r)),
                Some(KeyValue::new(URL_PATH, url_path(req.uri().path(), state))),
                Some(KeyValue::new(URL_SCHEME, scheme)),
                host.map(|h| KeyValue::new(SERVER_ADDRESS, h)),
                port.map(|p| KeyValue::new(SERVER_PORT, i64::from(p))),
                Some(KeyValue::new(
                    NETWORK_PROTOCOL_VERSION,
                    protocol_version(req.version()),
                )),
                user_agent
                    .map(|ua| KeyValue::new(USER_AGENT_ORIGINAL, shared.user_agent.value(ua))),
            ];
            let mut builder = SpanBuilder::from_name(name)
                .with_kind(SpanKind::Server)
                .with_start_time(start);
            if let Some(sc) = link {
                builder.links = Some(vec![opentelemetry::trace::Link::with_context(sc)]);
            }
            let parent = remote.unwrap_or_else(Context::current);
            let cx = shared.spans.start_with_attributes(
                builder,
                attrs.iter_mut().filter_map(Option::take),
                &parent,
            );
            (Some(cx), true)
        } else {
            // No span (filtered out, or the SDK disabled): the remote context (if any) still
            // flows to the handler, so outgoing calls and logs stay in the caller's trace.
            (remote, false)
        };

        let labels = Labels {
            method,
            https: scheme == "https",
            route: route_value,
        };
        if let Some(m) = &shared.metrics {
            m.active(&labels, 1);
        }
        let inner = {
            let _g = cx.clone().map(Context::attach);
            self.inner.call(req)
        };
        ResponseFuture {
            inner,
            active: Some(Active {
                cx,
                recording,
                start,
                shared: shared.clone(),
                route,
                labels,
                polling: false,
            }),
        }
    }
}

struct Active {
    /// The server span's context (or the remote one when the span is filtered out).
    cx: Option<Context>,
    /// `cx` holds a span this layer started (and must end).
    recording: bool,
    start: SystemTime,
    shared: Arc<Shared>,
    /// The route's state (metric attribute cache).
    route: RouteRef,
    labels: Labels,
    /// True while the inner future is being polled: still true on drop means it panicked.
    polling: bool,
}

impl Active {
    /// The server span, when this layer started one.
    fn span(&self) -> Option<opentelemetry::trace::SpanRef<'_>> {
        match (&self.cx, self.recording) {
            (Some(cx), true) => Some(cx.span()),
            _ => None,
        }
    }

    fn finish<RB, E>(self, result: &mut Result<Response<RB>, E>) {
        let outcome = match result {
            Ok(res) => {
                let status = res.status();
                if let Some(span) = self.span() {
                    let code = KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
                    if status.is_server_error() {
                        span.set_attributes([
                            code,
                            KeyValue::new(ERROR_TYPE, status.as_str().to_owned()),
                        ]);
                        span.set_status(Status::error(""));
                    } else {
                        span.set_attribute(code);
                    }
                }
                // The context's own span context (no copy kept per request); `X-Trace-Id`
                // only for a valid one.
                if let Some(cx) = &self.cx {
                    let span = cx.span();
                    let sc = span.span_context();
                    if sc.is_valid() {
                        let headers = res.headers_mut();
                        if let (Some(name), Some(v)) =
                            (&self.shared.trace_id_header, trace_id_value(sc))
                        {
                            headers.insert(name.clone(), v);
                        }
                        if self.shared.traceresponse {
                            if let Some(v) = traceresponse_value(sc) {
                                headers.insert(crate::shared::TRACERESPONSE, v);
                            }
                        }
                    }
                }
                Outcome::Status(status.as_u16())
            }
            Err(_) => {
                let ty = std::any::type_name::<E>();
                if let Some(span) = self.span() {
                    span.set_attribute(KeyValue::new(ERROR_TYPE, ty));
                    span.set_status(Status::error(""));
                }
                Outcome::ServiceError(ty)
            }
        };
        self.end(outcome);
    }

    /// The future was dropped before the inner service answered.
    fn abandon(self) {
        let outcome = if self.polling {
            if let Some(span) = self.span() {
                span.set_attribute(KeyValue::new(ERROR_TYPE, "panic"));
                span.set_status(Status::error("handler panicked"));
            }
            Outcome::Panic
        } else {
            if let Some(span) = self.span() {
                span.set_attribute(KeyValue::new(ERROR_TYPE, "cancelled"));
            }
            Outcome::Cancelled
        };
        self.end(outcome);
    }

    /// Ends the span (exactly once: `Active` is consumed) and records the metrics.
    fn end(self, outcome: Outcome) {
        let end = SystemTime::now();
        if let Some(span) = self.span() {
            span.end_with_timestamp(end);
        }
        if let Some(m) = &self.shared.metrics {
            m.duration(
                // The span's duration, exactly (0 if the wall clock stepped back).
                end.duration_since(self.start)
                    .unwrap_or_default()
                    .as_secs_f64(),
                &self.labels,
                outcome,
                self.route.get(&self.shared).map(|r| &r.attrs),
            );
            m.active(&self.labels, -1);
        }
    }
}

pin_project! {
    /// Response future of [`OtelService`]: polls the inner future with the server span's
    /// OpenTelemetry [`Context`] attached, and ends the span when it completes or is dropped.
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
            let _g = active.cx.clone().map(Context::attach);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn dispatch(directives: &str) -> tracing::Dispatch {
        let filter = tracing_subscriber::EnvFilter::new(directives);
        tracing::Dispatch::new(tracing_subscriber::registry().with(filter))
    }

    fn with_filter(directives: &str, f: impl FnOnce() -> bool) -> bool {
        tracing::dispatcher::with_default(&dispatch(directives), f)
    }

    /// A static route's path shares the route's value; any other path is its own copy.
    #[test]
    fn url_path_shares_a_static_routes_value() {
        let registry = crate::route::RouteRegistry::default();
        let fixed = registry.get("/v1/chat").unwrap();
        let shared = url_path("/v1/chat", Some(&fixed));
        assert_eq!(shared.as_str(), "/v1/chat");
        assert!(std::ptr::eq(
            shared.as_str(),
            fixed.route().unwrap().as_str()
        ));
        let param = registry.get("/users/{id}").unwrap();
        assert_eq!(url_path("/users/42", Some(&param)).as_str(), "/users/42");
        assert_eq!(url_path("/v1/chat/", Some(&fixed)).as_str(), "/v1/chat/");
        assert_eq!(url_path("/nowhere", None).as_str(), "/nowhere");
        assert_eq!(
            url_path("/x", Some(&registry.unrouted)).as_str(),
            "/x",
            "no route: the path"
        );
    }

    /// The callsite check answers as the filter does, for the target and for the level, and
    /// follows the current dispatcher (interest is rebuilt as dispatchers come and go).
    #[test]
    fn span_enabled_follows_the_tracing_filter() {
        assert!(with_filter("info", span_enabled));
        assert!(with_filter(
            "warn,baker_otel_axum::server=info",
            span_enabled
        ));
        assert!(!with_filter(
            "info,baker_otel_axum::server=off",
            span_enabled
        ));
        assert!(!with_filter("warn", span_enabled));
        assert!(!with_filter("baker_otel_axum::server=warn", span_enabled));
        // Two dispatchers alive at once that disagree: each thread gets its own answer.
        let (on, off) = (dispatch("info"), dispatch("off"));
        assert!(tracing::dispatcher::with_default(&on, span_enabled));
        assert!(!tracing::dispatcher::with_default(&off, span_enabled));
    }
}
