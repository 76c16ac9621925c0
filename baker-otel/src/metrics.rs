//! Metrics: one [`SdkMeterProvider`] feeding OTLP (periodic push) and Prometheus text
//! (`/metrics`, pull), plus baker-otel's own health metrics.

use crate::config::Config;
use crate::export::DropCounters;
use crate::InitError;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{MeterProviderBuilder, SdkMeterProvider};
use opentelemetry_sdk::Resource;
use std::sync::Arc;

/// Serves the Prometheus text exposition of every metric of the process: OpenTelemetry
/// instruments and anything registered in a user-supplied `prometheus::Registry`.
///
/// The core has no HTTP server: serve [`render`](Self::render) from your framework, or use
/// `baker_otel_axum::metrics_router(&handler)` / `baker_otel_axum::serve_metrics(handler, addr)`.
///
/// ```no_run
/// # fn run(telemetry: baker_otel::Telemetry) {
/// let metrics = telemetry.metrics_handler().expect("prometheus exporter enabled");
/// let body: String = metrics.render(); // respond with PROMETHEUS_CONTENT_TYPE
/// # let _ = body;
/// # }
/// ```
///
/// Without the `prometheus` feature the type still exists (so code that mounts `/metrics` compiles
/// either way) but no value of it can be made: [`TelemetryHandle::metrics_handler`](crate::TelemetryHandle::metrics_handler)
/// is always `None`, and selecting the Prometheus exporter is a
/// [`ConfigError::FeatureDisabled`](crate::ConfigError::FeatureDisabled).
#[derive(Clone, Debug)]
pub struct MetricsHandler {
    registry: Registry,
}

/// The registry behind `/metrics`; uninhabited when the `prometheus` feature is off.
pub(crate) use crate::export::select::Registry;

/// Content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl MetricsHandler {
    /// Wraps a registry (normally done by `init`).
    ///
    /// ```
    /// let h = baker_otel::MetricsHandler::new(prometheus::Registry::new());
    /// assert_eq!(h.render(), "");
    /// ```
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn new(registry: prometheus::Registry) -> Self {
        Self { registry }
    }

    /// The registry behind `/metrics`.
    ///
    /// ```
    /// let registry = prometheus::Registry::new();
    /// let h = baker_otel::MetricsHandler::new(registry.clone());
    /// assert!(h.registry().gather().is_empty());
    /// ```
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn registry(&self) -> &prometheus::Registry {
        &self.registry
    }

    /// The handler `Telemetry` offers when the SDK is disabled (`OTEL_SDK_DISABLED`): an empty
    /// registry, so `/metrics` still answers. `None` without the `prometheus` feature.
    pub(crate) fn for_disabled_sdk() -> Option<Self> {
        #[cfg(feature = "prometheus")]
        return Some(Self::new(prometheus::Registry::new()));
        #[cfg(not(feature = "prometheus"))]
        return None;
    }

    /// Renders the current metrics in the Prometheus text format.
    #[cfg(not(feature = "prometheus"))]
    pub fn render(&self) -> String {
        match self.registry {}
    }

    /// Renders the current metrics in the Prometheus text format.
    ///
    /// ```
    /// let registry = prometheus::Registry::new();
    /// let jobs = prometheus::IntCounter::new("jobs_total", "jobs").unwrap();
    /// registry.register(Box::new(jobs.clone())).unwrap();
    /// jobs.inc();
    /// let text = baker_otel::MetricsHandler::new(registry).render();
    /// assert!(text.contains("jobs_total 1"));
    /// ```
    #[cfg(feature = "prometheus")]
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut out = Vec::with_capacity(16 * 1024);
        let families = self.registry.gather();
        if let Err(e) = prometheus::TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!(target: crate::INTERNAL_TARGET, error = %e, "failed to encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Hook that adds a reader (used by the test capture).
pub(crate) type ExtraReader = Box<dyn FnOnce(MeterProviderBuilder) -> MeterProviderBuilder + Send>;

pub(crate) struct MeterParts {
    pub(crate) provider: SdkMeterProvider,
    pub(crate) handler: Option<MetricsHandler>,
}

pub(crate) fn build(
    cfg: &Config,
    resource: Resource,
    bridge: &crate::export::runtime::Bridge,
    registry: Option<Registry>,
    extra: Option<ExtraReader>,
) -> Result<MeterParts, InitError> {
    let b = SdkMeterProvider::builder().with_resource(resource);
    let (mut b, prometheus) = crate::export::select::metric_readers(cfg, b, bridge, registry)?;
    #[cfg(feature = "prometheus")]
    let handler = prometheus.map(MetricsHandler::new);
    #[cfg(not(feature = "prometheus"))]
    let handler = prometheus.map(|never| match never {});
    if let Some(add) = extra {
        b = add(b);
    }
    Ok(MeterParts {
        provider: b.build(),
        handler,
    })
}

/// Registers baker-otel's own instruments: exporter drops and process memory.
pub(crate) fn register_internal(provider: &SdkMeterProvider, drops: Arc<DropCounters>) {
    let meter = provider.meter("baker-otel");
    let _dropped = meter
        .u64_observable_counter("baker_otel.exporter.dropped")
        .with_unit("{item}")
        .with_description(
            "Spans and log records lost: export queue full, export failed, rejected by the collector (partial success) or abandoned at shutdown; for signal=metrics, metric exports lost at shutdown",
        )
        .with_callback(move |obs| {
            for (signal, d) in [
                ("traces", &drops.traces),
                ("logs", &drops.logs),
                ("metrics", &drops.metrics),
            ] {
                for reason in crate::export::DropReason::ALL {
                    obs.observe(
                        d.get(reason),
                        &[
                            KeyValue::new("signal", signal),
                            KeyValue::new("reason", reason.as_str()),
                        ],
                    );
                }
            }
        })
        .build();
    // An up-down counter, as semantic conventions define `process.memory.usage`.
    let _rss = meter
        .i64_observable_up_down_counter("process.memory.usage")
        .with_unit("By")
        .with_description("Resident set size of the process")
        .with_callback(|obs| {
            if let Some(rss) = resident_bytes() {
                obs.observe(i64::try_from(rss).unwrap_or(i64::MAX), &[]);
            }
        })
        .build();
}

/// Resident set size from `/proc/self/statm` (Linux); `None` elsewhere.
pub(crate) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
