//! [`OtelLayer`] and its builder.

use crate::intern::FirstSeen;
use crate::metrics::ServerMetrics;
use crate::route::RouteRegistry;
use crate::service::OtelService;
use baker_otel::propagation::Propagation;
use baker_otel::TelemetryHandle;
use http::HeaderName;
use opentelemetry::global::BoxedTracer;
use std::borrow::Cow;
use std::sync::Arc;

/// Default name of the response header carrying the trace id.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// Paths excluded by default: no span, no request metrics, no trace header.
pub const DEFAULT_EXCLUDED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// W3C Trace Context Level 2 response header.
pub(crate) const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) trace_id_header: Option<HeaderName>,
    pub(crate) traceresponse: bool,
    pub(crate) excluded: Box<[Cow<'static, str>]>,
    pub(crate) metrics: Option<ServerMetrics>,
    pub(crate) tracer: BoxedTracer,
    pub(crate) propagation: Propagation,
    /// `server.address` and `user_agent.original` are usually the same on every request.
    pub(crate) host: FirstSeen,
    pub(crate) user_agent: FirstSeen,
    pub(crate) routes: RouteRegistry,
    /// Header names of the propagation fields (extraction is skipped when none is present).
    pub(crate) propagation_fields: Box<[HeaderName]>,
}

impl Shared {
    #[inline]
    pub(crate) fn is_excluded(&self, path: &str) -> bool {
        self.excluded.iter().any(|p| p.as_ref() == path)
    }
}

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
                tracer: crate::tracer::tracer(&self.hub),
                propagation,
                host: FirstSeen::default(),
                user_agent: FirstSeen::default(),
                routes: RouteRegistry::default(),
                propagation_fields,
            }),
        }
    }
}
