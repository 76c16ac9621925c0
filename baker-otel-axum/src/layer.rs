//! [`OtelLayer`] and its builder.

use crate::first_seen::{FirstAuthority, FirstSeen};
use crate::metrics::ServerMetrics;
use crate::route::RouteRegistry;
use crate::service::OtelService;
use crate::shared::{Public, RequestHead, Shared};
use baker_otel::TelemetryHandle;
use http::HeaderName;
use std::borrow::Cow;
use std::sync::Arc;

/// Default name of the response header carrying the trace id.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// Paths excluded by default: no span, no request metrics, no trace header.
pub const DEFAULT_EXCLUDED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Tower layer that traces every HTTP request as an OpenTelemetry SERVER span, writes
/// `X-Trace-Id` on every response and records the HTTP server metrics.
///
/// # Layer order (the one rule)
///
/// Apply `OtelLayer` with `Router::layer` (not `route_layer`, which skips the 404 fallback) and
/// make it the **outermost** layer that can produce a response — axum applies the *last*
/// `.layer()` call outermost:
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use std::time::Duration;
/// use tower_http::{catch_panic::CatchPanicLayer, timeout::TimeoutLayer};
///
/// let telemetry = baker_otel::init()?;
/// let app: Router = Router::new()
///     .route("/v1/chat/{id}", get(|| async { "hi" }))
///     .layer(TimeoutLayer::with_status_code(http::StatusCode::GATEWAY_TIMEOUT, Duration::from_secs(30)))
///     .layer(CatchPanicLayer::new())
///     .layer(baker_otel_axum::OtelLayer::new(&telemetry)); // last = outermost
/// # Ok::<(), baker_otel::InitError>(())
/// ```
///
/// Responses created by layers *outside* `OtelLayer` (a timeout or caught panic from an outer
/// `TimeoutLayer`/`CatchPanicLayer`) cannot carry the header: the span still ends with
/// `error.type = "panic"` (status ERROR) or `error.type = "cancelled"` respectively.
///
/// ```
/// # let capture = baker_otel::testing::Capture::new();
/// # let telemetry = capture.telemetry();
/// let layer = baker_otel_axum::OtelLayer::new(&telemetry);
/// let app: axum::Router = axum::Router::new().layer(layer);
/// ```
#[derive(Debug, Clone)]
pub struct OtelLayer {
    shared: Arc<Shared>,
}

impl OtelLayer {
    /// The layer with default settings: `x-trace-id` header, no `traceresponse`, excluded
    /// paths [`DEFAULT_EXCLUDED_PATHS`]; spans, metrics and propagation from `telemetry`.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _layer = baker_otel_axum::OtelLayer::new(&telemetry);
    /// ```
    pub fn new(telemetry: &TelemetryHandle) -> Self {
        Self::builder(telemetry).build()
    }

    /// Starts a builder.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let layer = baker_otel_axum::OtelLayer::builder(&telemetry)
    ///     .trace_id_header(http::HeaderName::from_static("x-request-trace"))
    ///     .traceresponse(true)
    ///     .exclude_path("/live")
    ///     .build();
    /// # let _ = layer;
    /// ```
    pub fn builder(telemetry: &TelemetryHandle) -> OtelLayerBuilder {
        OtelLayerBuilder::new(telemetry)
    }
}

impl<S> tower_layer::Layer<S> for OtelLayer {
    type Service = OtelService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelService::new(inner, self.shared.clone())
    }
}

/// Builder of [`OtelLayer`].
///
/// ```
/// # let capture = baker_otel::testing::Capture::new();
/// # let telemetry = capture.telemetry();
/// let layer = baker_otel_axum::OtelLayer::builder(&telemetry)
///     .excluded_paths(["/health", "/metrics"])
///     .build();
/// # let _ = layer;
/// ```
#[derive(Debug)]
#[must_use]
pub struct OtelLayerBuilder {
    trace_id_header: Option<HeaderName>,
    traceresponse: bool,
    excluded: Vec<Cow<'static, str>>,
    metrics: bool,
    hub: TelemetryHandle,
    public: Public,
    baggage_allow: Vec<Cow<'static, str>>,
}

impl OtelLayerBuilder {
    fn new(hub: &TelemetryHandle) -> Self {
        Self {
            trace_id_header: Some(HeaderName::from_static(TRACE_ID_HEADER)),
            traceresponse: false,
            excluded: DEFAULT_EXCLUDED_PATHS
                .iter()
                .map(|p| Cow::Borrowed(*p))
                .collect(),
            metrics: true,
            hub: hub.clone(),
            public: Public::None,
            baggage_allow: Vec::new(),
        }
    }

    /// Name of the response header carrying the trace id (default `x-trace-id`).
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry).trace_id_header(http::HeaderName::from_static("trace-id"));
    /// ```
    pub fn trace_id_header(mut self, name: HeaderName) -> Self {
        self.trace_id_header = Some(name);
        self
    }

    /// Writes no trace-id header.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry).without_trace_id_header();
    /// ```
    pub fn without_trace_id_header(mut self) -> Self {
        self.trace_id_header = None;
        self
    }

    /// Also writes the W3C Trace Context Level 2 `traceresponse` header (default off).
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry).traceresponse(true);
    /// ```
    pub fn traceresponse(mut self, on: bool) -> Self {
        self.traceresponse = on;
        self
    }

    /// Replaces the excluded paths (exact match on the request path; no span, no metrics).
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry).excluded_paths(["/livez"]);
    /// ```
    pub fn excluded_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Cow<'static, str>>,
    {
        self.excluded = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Adds one excluded path.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry).exclude_path("/startupz");
    /// ```
    pub fn exclude_path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        self.excluded.push(path.into());
        self
    }

    /// Turns the request metrics off (spans and headers only).
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry).metrics(false);
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Treats every request as coming from an untrusted client (a public API such as the
    /// Brain): the server span starts a **new trace** (the client's `traceparent` cannot choose
    /// the trace id, and its sampled flag does not force sampling — the sampler decides as for
    /// a root), the client's span context is kept as a **span link** (ids and flags, without
    /// its `tracestate`), and the client's
    /// **baggage is dropped** except the keys of
    /// [`public_baggage_allow_list`](Self::public_baggage_allow_list) — so a client cannot set
    /// `gen_ai.conversation.id` / `baker.job.id` or push baggage to the services behind.
    /// Same behaviour as Go's `otelhttp.WithPublicEndpoint`, plus the baggage filter.
    /// Internal hops (NATS, workers, extensions) keep full propagation.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry).public_endpoint(true);
    /// ```
    pub fn public_endpoint(mut self, on: bool) -> Self {
        self.public = if on { Public::All } else { Public::None };
        self
    }

    /// Decides per request whether it is public (see
    /// [`public_endpoint`](Self::public_endpoint)), for services that serve both internal and
    /// public callers (Go's `otelhttp.WithPublicEndpointFn`). Runs on every traced request.
    ///
    /// Decide on something the client cannot choose: not the path, a header or the `Host`
    /// (anyone can send `/internal/…`), but which listener the request came in on, or a
    /// verified client certificate.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// /// Set by a layer on the internal listener's router only.
    /// #[derive(Clone)]
    /// struct InternalListener;
    ///
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry)
    ///     .public_endpoint_fn(|req| {
    ///         req.extensions()
    ///             .is_none_or(|e| e.get::<InternalListener>().is_none())
    ///     });
    /// ```
    pub fn public_endpoint_fn(
        mut self,
        f: impl Fn(&RequestHead<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.public = Public::Fn(Arc::new(f));
        self
    }

    /// Client baggage keys kept on public requests (default: none). Keep this to keys whose
    /// values you would accept from anyone; never the Baker ids.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _ = baker_otel_axum::OtelLayer::builder(&telemetry)
    ///     .public_endpoint(true)
    ///     .public_baggage_allow_list(["client.app_version"]);
    /// ```
    pub fn public_baggage_allow_list<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<Cow<'static, str>>,
    {
        self.baggage_allow = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Builds the layer.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let _layer: baker_otel_axum::OtelLayer = baker_otel_axum::OtelLayer::builder(&telemetry).build();
    /// ```
    pub fn build(self) -> OtelLayer {
        let propagation = self.hub.propagation().clone();
        let propagation_fields = propagation
            .fields()
            .filter_map(|f| HeaderName::from_bytes(f.as_bytes()).ok())
            .collect();
        OtelLayer {
            shared: Arc::new(Shared {
                trace_id_header: self.trace_id_header,
                traceresponse: self.traceresponse,
                excluded: self.excluded.into_boxed_slice(),
                metrics: self
                    .metrics
                    .then(|| ServerMetrics::new(&self.hub.meter(crate::metrics::SCOPE))),
                spans: crate::tracer::starter(&self.hub),
                propagation,
                host: FirstAuthority::default(),
                user_agent: FirstSeen::default(),
                routes: RouteRegistry::default(),
                propagation_fields,
                public: self.public,
                baggage_allow: self.baggage_allow.into_boxed_slice(),
            }),
        }
    }
}
