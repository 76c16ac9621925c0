//! [`OtelLayer`] and its builder.

use crate::intern::FirstSeen;
use crate::metrics::{MetricsSource, ServerMetrics, SCOPE};
use crate::route::RouteRegistry;
use crate::service::OtelService;
use crate::tracer::TracerSource;
use http::HeaderName;
use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{Span, Tracer, TracerProvider};
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

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
    pub(crate) metrics: MetricsSource,
    pub(crate) tracer: TracerSource,
    /// `server.address` and `user_agent.original` are usually the same on every request.
    pub(crate) host: FirstSeen,
    pub(crate) user_agent: FirstSeen,
    pub(crate) routes: RouteRegistry,
    /// Header names of the global propagator's fields, read on the first request.
    pub(crate) propagation_fields: OnceLock<Box<[HeaderName]>>,
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
/// let app: Router = Router::new()
///     .route("/v1/chat/{id}", get(|| async { "hi" }))
///     .layer(TimeoutLayer::with_status_code(http::StatusCode::GATEWAY_TIMEOUT, Duration::from_secs(30)))
///     .layer(CatchPanicLayer::new())
///     .layer(baker_otel_axum::OtelLayer::new()); // last = outermost
/// ```
///
/// Responses created by layers *outside* `OtelLayer` (a timeout or caught panic from an outer
/// `TimeoutLayer`/`CatchPanicLayer`) cannot carry the header: the span still ends with
/// `error.type = "panic"` (status ERROR) or `error.type = "cancelled"` respectively.
///
/// ```
/// let layer = baker_otel_axum::OtelLayer::new();
/// let app: axum::Router = axum::Router::new().layer(layer);
/// ```
#[derive(Debug, Clone)]
pub struct OtelLayer {
    shared: Arc<Shared>,
}

impl Default for OtelLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl OtelLayer {
    /// The layer with default settings: `x-trace-id` header, no `traceresponse`, excluded
    /// paths [`DEFAULT_EXCLUDED_PATHS`], metrics on the global meter provider.
    ///
    /// ```
    /// let _layer = baker_otel_axum::OtelLayer::new();
    /// ```
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts a builder.
    ///
    /// ```
    /// let layer = baker_otel_axum::OtelLayer::builder()
    ///     .trace_id_header(http::HeaderName::from_static("x-request-trace"))
    ///     .traceresponse(true)
    ///     .exclude_path("/live")
    ///     .build();
    /// # let _ = layer;
    /// ```
    pub fn builder() -> OtelLayerBuilder {
        OtelLayerBuilder::default()
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
/// let capture_or_sdk_provider = opentelemetry_sdk_provider();
/// # fn opentelemetry_sdk_provider() -> opentelemetry::metrics::noop::NoopMeterProvider { opentelemetry::metrics::noop::NoopMeterProvider::new() }
/// let layer = baker_otel_axum::OtelLayer::builder()
///     .excluded_paths(["/health", "/metrics"])
///     .meter_provider(&capture_or_sdk_provider)
///     .build();
/// # let _ = layer;
/// ```
#[derive(Debug)]
#[must_use]
pub struct OtelLayerBuilder {
    trace_id_header: Option<HeaderName>,
    traceresponse: bool,
    excluded: Vec<Cow<'static, str>>,
    metrics: MetricsSource,
    tracer: TracerSource,
}

impl Default for OtelLayerBuilder {
    fn default() -> Self {
        Self {
            trace_id_header: Some(HeaderName::from_static(TRACE_ID_HEADER)),
            traceresponse: false,
            excluded: DEFAULT_EXCLUDED_PATHS
                .iter()
                .map(|p| Cow::Borrowed(*p))
                .collect(),
            metrics: MetricsSource::Global(OnceLock::new()),
            tracer: TracerSource::Global(OnceLock::new()),
        }
    }
}

impl OtelLayerBuilder {
    /// Name of the response header carrying the trace id (default `x-trace-id`).
    ///
    /// ```
    /// let _ = baker_otel_axum::OtelLayer::builder().trace_id_header(http::HeaderName::from_static("trace-id"));
    /// ```
    pub fn trace_id_header(mut self, name: HeaderName) -> Self {
        self.trace_id_header = Some(name);
        self
    }

    /// Writes no trace-id header.
    ///
    /// ```
    /// let _ = baker_otel_axum::OtelLayer::builder().without_trace_id_header();
    /// ```
    pub fn without_trace_id_header(mut self) -> Self {
        self.trace_id_header = None;
        self
    }

    /// Also writes the W3C Trace Context Level 2 `traceresponse` header (default off).
    ///
    /// ```
    /// let _ = baker_otel_axum::OtelLayer::builder().traceresponse(true);
    /// ```
    pub fn traceresponse(mut self, on: bool) -> Self {
        self.traceresponse = on;
        self
    }

    /// Replaces the excluded paths (exact match on the request path; no span, no metrics).
    ///
    /// ```
    /// let _ = baker_otel_axum::OtelLayer::builder().excluded_paths(["/livez"]);
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
    /// let _ = baker_otel_axum::OtelLayer::builder().exclude_path("/startupz");
    /// ```
    pub fn exclude_path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        self.excluded.push(path.into());
        self
    }

    /// Records metrics through this provider instead of the global one (e.g. a test
    /// capture's, or `Telemetry::meter_provider()`).
    ///
    /// ```
    /// let provider = opentelemetry::metrics::noop::NoopMeterProvider::new();
    /// let _ = baker_otel_axum::OtelLayer::builder().meter_provider(&provider);
    /// ```
    pub fn meter_provider(mut self, provider: &dyn MeterProvider) -> Self {
        self.metrics = MetricsSource::Explicit(ServerMetrics::new(&provider.meter(SCOPE)));
        self
    }

    /// Starts the SERVER spans with this provider's tracer instead of the global provider's
    /// (e.g. `Telemetry::tracer_provider()` or a test's SDK provider). Spans are still gated by
    /// the `tracing` filter on [`SERVER_SPAN_TARGET`](crate::SERVER_SPAN_TARGET) at `INFO`.
    ///
    /// ```
    /// let provider = opentelemetry::trace::noop::NoopTracerProvider::new();
    /// let _ = baker_otel_axum::OtelLayer::builder().tracer_provider(&provider);
    /// ```
    pub fn tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Tracer + Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Span + Send + Sync + 'static,
    {
        let tracer = provider.tracer_with_scope(crate::tracer::scope());
        self.tracer = TracerSource::Explicit(BoxedTracer::new(Box::new(tracer)));
        self
    }

    /// Turns the request metrics off (spans and headers only).
    ///
    /// ```
    /// let _ = baker_otel_axum::OtelLayer::builder().metrics(false);
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        if !on {
            self.metrics = MetricsSource::Off;
        } else if matches!(self.metrics, MetricsSource::Off) {
            self.metrics = MetricsSource::Global(OnceLock::new());
        }
        self
    }

    /// Builds the layer.
    ///
    /// ```
    /// let _layer: baker_otel_axum::OtelLayer = baker_otel_axum::OtelLayer::builder().build();
    /// ```
    pub fn build(self) -> OtelLayer {
        OtelLayer {
            shared: Arc::new(Shared {
                trace_id_header: self.trace_id_header,
                traceresponse: self.traceresponse,
                excluded: self.excluded.into_boxed_slice(),
                metrics: self.metrics,
                tracer: self.tracer,
                host: FirstSeen::default(),
                user_agent: FirstSeen::default(),
                routes: RouteRegistry::default(),
                propagation_fields: OnceLock::new(),
            }),
        }
    }
}
