//! [`TelemetryBuilder`] and the [`Telemetry`] guard that owns the pipelines.

use crate::config::{
    BatchConfig, Config, EnvSource, ExporterKind, Protocol, SamplerConfig, Signal,
};
use crate::export::batch::{BatchExporter, BatchQueue};
use crate::export::build::{combine, LogItem};
use crate::export::runtime::ExportRuntime;
use crate::export::DropCounters;
use crate::logs::json::{JsonLayer, JsonSink};
use crate::metrics::{ExtraReader, MetricsHandler};
use crate::resource::ResourceOverrides;
use crate::{ConfigError, InitError, ShutdownError};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

type ConfigEdit = Box<dyn FnOnce(&mut Config) -> Result<(), ConfigError> + Send>;
type ExporterFactory<T> =
    Box<dyn FnOnce(&opentelemetry_sdk::Resource) -> Box<dyn BatchExporter<T>> + Send>;

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Initialises telemetry from the environment with defaults. Equivalent to
/// `Telemetry::builder().init()`.
///
/// ```no_run
/// fn main() -> Result<(), baker_otel::InitError> {
///     let _telemetry = baker_otel::init()?;   // flushes and shuts down on drop
///     tracing::info!("service started");
///     Ok(())
/// }
/// ```
pub fn init() -> Result<Telemetry, InitError> {
    Telemetry::builder().init()
}

/// Explicit configuration. Builder settings win over environment variables.
///
/// ```no_run
/// let telemetry = baker_otel::Telemetry::builder()
///     .service_name("brain")
///     .service_version(env!("CARGO_PKG_VERSION"))
///     .deployment_environment("staging")
///     .shutdown_timeout(std::time::Duration::from_secs(3))
///     .init()?;
/// # Ok::<(), baker_otel::InitError>(())
/// ```
#[must_use]
pub struct TelemetryBuilder {
    pub(crate) env: EnvSource,
    service_name: Option<String>,
    resource: ResourceOverrides,
    edits: Vec<ConfigEdit>,
    json_sink: JsonSink,
    registry: Option<crate::metrics::Registry>,
    extra_spans: Vec<ExporterFactory<SpanData>>,
    extra_logs: Vec<ExporterFactory<LogItem>>,
    #[cfg(feature = "testing")]
    pub(crate) test_sinks: Option<crate::testing::Sinks>,
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("service_name", &self.service_name)
            .finish_non_exhaustive()
    }
}

impl Default for TelemetryBuilder {
    fn default() -> Self {
        Self {
            env: EnvSource::process(),
            service_name: None,
            resource: ResourceOverrides::default(),
            edits: Vec::new(),
            json_sink: JsonSink::Stdout,
            registry: None,
            extra_spans: Vec::new(),
            extra_logs: Vec::new(),
            #[cfg(feature = "testing")]
            test_sinks: None,
        }
    }
}

impl TelemetryBuilder {
    fn edit(
        mut self,
        f: impl FnOnce(&mut Config) -> Result<(), ConfigError> + Send + 'static,
    ) -> Self {
        self.edits.push(Box::new(f));
        self
    }

    /// Reads variables from `env` instead of the process environment.
    pub fn env_source(mut self, env: EnvSource) -> Self {
        self.env = env;
        self
    }
    /// `service.name` (beats `OTEL_SERVICE_NAME`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }
    /// `service.version`.
    pub fn service_version(mut self, v: impl Into<String>) -> Self {
        self.resource.service_version = Some(v.into());
        self
    }
    /// `service.namespace`.
    pub fn service_namespace(mut self, v: impl Into<String>) -> Self {
        self.resource.service_namespace = Some(v.into());
        self
    }
    /// `deployment.environment.name`.
    pub fn deployment_environment(mut self, v: impl Into<String>) -> Self {
        self.resource.deployment_environment = Some(v.into());
        self
    }
    /// Any other resource attribute.
    pub fn resource_attribute(
        mut self,
        key: impl Into<opentelemetry::Key>,
        value: impl Into<opentelemetry::Value>,
    ) -> Self {
        self.resource.attributes.push(KeyValue::new(key, value));
        self
    }
    /// Base OTLP endpoint for every signal (`http://collector:4317` for gRPC, `…:4318` for HTTP).
    pub fn otlp_endpoint(self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.edit(move |c| {
            crate::config::validate_endpoint("otlp_endpoint", &url)?;
            for (s, sc) in [
                (Signal::Traces, &mut c.traces),
                (Signal::Metrics, &mut c.metrics),
                (Signal::Logs, &mut c.logs),
            ] {
                sc.endpoint = crate::config::resolve_endpoint(Some(&url), s, sc.protocol);
            }
            Ok(())
        })
    }
    /// OTLP protocol for every signal. Call before [`otlp_endpoint`](Self::otlp_endpoint);
    /// default endpoints follow the protocol.
    pub fn otlp_protocol(self, p: Protocol) -> Self {
        self.edit(move |c| {
            for (s, sc) in [
                (Signal::Traces, &mut c.traces),
                (Signal::Metrics, &mut c.metrics),
                (Signal::Logs, &mut c.logs),
            ] {
                if sc.protocol != p {
                    let default_old = crate::config::resolve_endpoint(None, s, sc.protocol);
                    if sc.endpoint == default_old {
                        sc.endpoint = crate::config::resolve_endpoint(None, s, p);
                    }
                    sc.protocol = p;
                }
            }
            Ok(())
        })
    }
    /// Adds a header (gRPC metadata) to every OTLP request, e.g. an API key.
    pub fn otlp_header(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (k, v) = (key.into(), value.into());
        self.edit(move |c| {
            for sc in [&mut c.traces, &mut c.metrics, &mut c.logs] {
                sc.headers.push((k.clone(), v.clone()));
            }
            Ok(())
        })
    }
    /// Exporters for one signal (empty = none).
    pub fn exporters(self, signal: Signal, kinds: impl Into<Vec<ExporterKind>>) -> Self {
        let kinds = kinds.into();
        self.edit(move |c| {
            let sc = match signal {
                Signal::Traces => &mut c.traces,
                Signal::Metrics => &mut c.metrics,
                Signal::Logs => &mut c.logs,
            };
            sc.exporters = kinds;
            Ok(())
        })
    }
    /// Trace sampler.
    pub fn sampler(self, s: SamplerConfig) -> Self {
        self.edit(move |c| {
            c.sampler = s;
            Ok(())
        })
    }
    /// Metric push interval.
    pub fn metric_export_interval(self, d: Duration) -> Self {
        self.edit(move |c| {
            c.metric_export_interval = d;
            Ok(())
        })
    }
    /// Span batching.
    pub fn span_batch(self, b: BatchConfig) -> Self {
        self.edit(move |c| {
            c.span_batch = b;
            Ok(())
        })
    }
    /// Log batching.
    pub fn log_batch(self, b: BatchConfig) -> Self {
        self.edit(move |c| {
            c.log_batch = b;
            Ok(())
        })
    }
    /// Overall shutdown deadline (default 5 s).
    pub fn shutdown_timeout(self, d: Duration) -> Self {
        self.edit(move |c| {
            c.shutdown_timeout = d;
            Ok(())
        })
    }
    /// Level filter directives, `RUST_LOG` syntax.
    pub fn log_filter(self, directives: impl Into<String>) -> Self {
        let d = directives.into();
        self.edit(move |c| {
            c.log_filter = d;
            Ok(())
        })
    }
    /// Turns the JSON stdout lines on or off.
    pub fn json_logs(self, on: bool) -> Self {
        self.edit(move |c| {
            c.json_logs = on;
            Ok(())
        })
    }
    /// Where JSON lines go (stdout by default).
    pub fn json_sink(mut self, sink: JsonSink) -> Self {
        self.json_sink = sink;
        self
    }
    /// Disables the SDK (like `OTEL_SDK_DISABLED=true`).
    pub fn disabled(self, disabled: bool) -> Self {
        self.edit(move |c| {
            c.disabled = disabled;
            Ok(())
        })
    }
    /// Serves this registry's metrics in the same `/metrics` output.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn prometheus_registry(mut self, registry: prometheus::Registry) -> Self {
        self.registry = Some(registry);
        self
    }
    /// Adds a custom span exporter (a vendor backend, a file…) next to the configured ones. It is
    /// fed through the same bounded, drop-counting queue and runs on the export runtime.
    pub fn with_span_exporter<E: opentelemetry_sdk::trace::SpanExporter + 'static>(
        mut self,
        exporter: E,
    ) -> Self {
        let mut exporter = exporter;
        self.extra_spans.push(Box::new(move |r| {
            exporter.set_resource(r);
            Box::new(crate::export::build::Spans(exporter))
        }));
        self
    }
    /// Adds a custom log exporter next to the configured ones.
    pub fn with_log_exporter<E: opentelemetry_sdk::logs::LogExporter + 'static>(
        mut self,
        exporter: E,
    ) -> Self {
        let mut exporter = exporter;
        self.extra_logs.push(Box::new(move |r| {
            exporter.set_resource(r);
            Box::new(crate::export::build::Logs(exporter))
        }));
        self
    }

    /// Full access to the configuration after the environment was read.
    pub fn configure(self, f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.edit(move |c| {
            f(c);
            Ok(())
        })
    }

    /// Resolves the configuration without installing anything.
    pub fn config(&mut self) -> Result<Config, InitError> {
        let mut cfg = Config::from_source(&self.env)?;
        if let Some(n) = &self.service_name {
            cfg.service_name = n.clone();
        }
        for e in self.edits.drain(..) {
            e(&mut cfg)?;
        }
        Ok(cfg)
    }

    /// Builds the pipelines and installs them globally: the `tracing` subscriber, the
    /// OpenTelemetry tracer/meter providers and the propagator.
    pub fn init(self) -> Result<Telemetry, InitError> {
        let (telemetry, dispatch) = self.build()?;
        if let Err(e) = install_dispatch(dispatch) {
            let _ = telemetry.shutdown();
            return Err(e);
        }
        let inner = &telemetry.inner;
        if let Some(tp) = &inner.tracer_provider {
            opentelemetry::global::set_tracer_provider(tp.clone());
        }
        if let Some(mp) = &inner.meter_provider {
            opentelemetry::global::set_meter_provider(mp.clone());
        }
        crate::propagation::install(&inner.config.propagators);
        Ok(telemetry)
    }

    /// Builds every pipeline and returns the guard plus a `tracing` dispatcher **without
    /// installing anything globally**. Services call [`init`](Self::init); this is for embedding
    /// the subscriber in a scope (`tracing::dispatcher::with_default`), for benchmarks and tests.
    ///
    /// ```
    /// let (telemetry, dispatch) = baker_otel::Telemetry::builder()
    ///     .env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")]))
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info!("scoped"));
    /// telemetry.shutdown().unwrap();
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn build(mut self) -> Result<(Telemetry, tracing::Dispatch), InitError> {
        let cfg = self.config()?;
        let filter = level_filter(&cfg.log_filter)?;
        let json = cfg
            .json_logs
            .then(|| JsonLayer::new(&cfg.service_name, self.json_sink.clone()));
        let drops = Arc::new(DropCounters::default());

        if cfg.disabled {
            let subscriber = tracing_subscriber::registry()
                .with(crate::logs::json::NoSpans)
                .with(filter.0)
                .with(filter.1)
                .with(json);
            let dispatch = tracing::Dispatch::new(subscriber);
            let inner = Inner::new(cfg, None, None, None, None, None, drops);
            return Ok((Telemetry { inner }, dispatch));
        }

        let runtime = ExportRuntime::start()?;
        let handle = runtime.handle();
        let resource = crate::resource::build(&cfg, &self.resource, &self.env);

        // The test capture swaps every exporter for an in-memory sink.
        #[cfg(feature = "testing")]
        let sinks = self.test_sinks.take();
        #[cfg(feature = "testing")]
        let extra: Option<ExtraReader> = sinks.as_ref().map(|s| s.metric_reader());
        #[cfg(not(feature = "testing"))]
        let extra: Option<ExtraReader> = None;

        // Meter → logger → tracer (shutdown runs the other way round).
        let meter =
            crate::metrics::build(&cfg, resource.clone(), &handle, self.registry.take(), extra)?;
        crate::metrics::register_internal(&meter.provider, drops.clone());

        let mut logs = crate::logs::otlp::exporters(&cfg.logs, &handle, &resource)?;
        let mut spans = crate::traces::exporters(&cfg.traces, &handle, &resource)?;
        #[cfg(feature = "testing")]
        if let Some(s) = &sinks {
            logs = vec![s.log_exporter()];
            spans = vec![s.span_exporter()];
        }
        logs.extend(self.extra_logs.drain(..).map(|f| f(&resource)));
        spans.extend(self.extra_spans.drain(..).map(|f| f(&resource)));
        let (log_exporter, span_exporter) = (combine(logs), combine(spans));

        let logger_provider = log_exporter.map(|e| {
            let q = BatchQueue::start(&handle, e, cfg.log_batch, drops.logs.clone(), "logs");
            crate::logs::otlp::provider(
                resource.clone(),
                crate::logs::otlp::BakerLogProcessor::new(q, cfg.limits.attribute_value_length),
            )
        });
        let processor = span_exporter.map(|e| {
            crate::traces::BakerSpanProcessor::new(
                BatchQueue::start(&handle, e, cfg.span_batch, drops.traces.clone(), "traces"),
                cfg.limits.attribute_value_length,
            )
        });
        let tracer_provider = crate::traces::provider(
            resource,
            crate::traces::sampler(cfg.sampler),
            cfg.limits,
            processor,
        );

        let otel_layer = tracing_opentelemetry::layer()
            .with_tracer(tracer_provider.tracer("baker-otel"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_level(false)
            .with_filter(crate::logs::json::SpansOnly);
        let log_layer = logger_provider.as_ref().map(|lp| {
            // Feedback targets are refused in BakerLogProcessor::event_enabled (no per-layer filter).
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(lp)
        });
        let subscriber = tracing_subscriber::registry()
            .with(filter.0)
            .with(filter.1)
            .with(otel_layer)
            .with(json)
            .with(log_layer);
        let dispatch = tracing::Dispatch::new(subscriber);
        let inner = Inner::new(
            cfg,
            Some(runtime),
            Some(tracer_provider),
            logger_provider,
            Some(meter.provider),
            meter.handler,
            drops,
        );
        Ok((Telemetry { inner }, dispatch))
    }
}

/// The level filter for `RUST_LOG`-style directives. Purely static directives
/// (`info,h2=warn,worker::agent=debug`) use the cheaper [`Targets`] filter, which needs no
/// per-span bookkeeping; directives with span or field matchers fall back to [`EnvFilter`].
/// Exactly one of the pair is `Some` (a `None` layer is a no-op).
fn level_filter(directives: &str) -> Result<(Option<Targets>, Option<EnvFilter>), ConfigError> {
    if let Ok(t) = directives.parse::<Targets>() {
        return Ok((Some(t), None));
    }
    EnvFilter::try_new(directives)
        .map(|e| (None, Some(e)))
        .map_err(|e| ConfigError::invalid("RUST_LOG", directives, e.to_string()))
}

/// Sets the global `tracing` dispatcher once per process.
pub(crate) fn install_dispatch(dispatch: tracing::Dispatch) -> Result<(), InitError> {
    if INSTALLED.swap(true, Ordering::SeqCst)
        || tracing::dispatcher::set_global_default(dispatch).is_err()
    {
        return Err(InitError::AlreadyInitialized);
    }
    Ok(())
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) tracer_provider: Option<SdkTracerProvider>,
    pub(crate) logger_provider: Option<SdkLoggerProvider>,
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    metrics_handler: Option<MetricsHandler>,
    drops: Arc<DropCounters>,
    runtime: Mutex<Option<ExportRuntime>>,
    shut_down: AtomicBool,
}

impl Inner {
    fn new(
        config: Config,
        runtime: Option<ExportRuntime>,
        tracer_provider: Option<SdkTracerProvider>,
        logger_provider: Option<SdkLoggerProvider>,
        meter_provider: Option<SdkMeterProvider>,
        metrics_handler: Option<MetricsHandler>,
        drops: Arc<DropCounters>,
    ) -> Arc<Self> {
        let metrics_handler = metrics_handler.or_else(|| {
            config
                .disabled
                .then(MetricsHandler::for_disabled_sdk)
                .flatten()
        });
        Arc::new(Self {
            config,
            tracer_provider,
            logger_provider,
            meter_provider,
            metrics_handler,
            drops,
            runtime: Mutex::new(runtime),
            shut_down: AtomicBool::new(false),
        })
    }
}

/// The installed telemetry. Keep it alive for the life of the service: dropping it (or calling
/// [`shutdown`](Self::shutdown)) flushes and stops every pipeline within the configured deadline.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct Telemetry {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("service_name", &self.inner.config.service_name)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Starts a builder.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// The resolved configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The meter provider (also installed as the global one by `init`).
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.inner.meter_provider.as_ref()
    }

    /// The tracer provider (also installed as the global one by `init`).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.inner.tracer_provider.as_ref()
    }

    /// The `/metrics` handler, when the Prometheus exporter is enabled (the default).
    pub fn metrics_handler(&self) -> Option<&MetricsHandler> {
        self.inner.metrics_handler.as_ref()
    }

    /// Items dropped so far for `signal` (queue full or export failed).
    pub fn dropped(&self, signal: Signal) -> u64 {
        self.inner.drops.get(signal)
    }

    /// Exports everything buffered now (bounded by the shutdown deadline).
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let i = self.inner.clone();
        run_bounded(self.inner.config.shutdown_timeout, move || {
            let mut errs = Vec::new();
            if let Some(t) = &i.tracer_provider {
                t.force_flush().map_err(|e| errs.push(e.to_string())).ok();
            }
            if let Some(l) = &i.logger_provider {
                l.force_flush().map_err(|e| errs.push(e.to_string())).ok();
            }
            if let Some(m) = &i.meter_provider {
                m.force_flush().map_err(|e| errs.push(e.to_string())).ok();
            }
            errs
        })
    }

    /// Flushes and shuts down tracer → logger → meter under one deadline. Calling it again is a
    /// no-op. Safe inside and outside an async runtime; never blocks longer than the deadline
    /// (plus a few milliseconds).
    pub fn shutdown(&self) -> Result<(), ShutdownError> {
        if self.inner.shut_down.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let timeout = self.inner.config.shutdown_timeout;
        let start = Instant::now();
        let i = self.inner.clone();
        let result = run_bounded(timeout, move || {
            let mut errs = Vec::new();
            // The providers get slightly less than the overall deadline, so that a queue that
            // gives up on a stalled collector has counted what it abandoned before we return.
            let budget = timeout.saturating_sub(Duration::from_millis(25));
            let left = |s: Instant| budget.saturating_sub(s.elapsed());
            if let Some(t) = &i.tracer_provider {
                t.shutdown_with_timeout(left(start))
                    .map_err(|e| errs.push(format!("traces: {e}")))
                    .ok();
            }
            if let Some(l) = &i.logger_provider {
                l.shutdown_with_timeout(left(start))
                    .map_err(|e| errs.push(format!("logs: {e}")))
                    .ok();
            }
            if let Some(m) = &i.meter_provider {
                m.shutdown_with_timeout(left(start))
                    .map_err(|e| errs.push(format!("metrics: {e}")))
                    .ok();
            }
            errs
        });
        if let Ok(mut rt) = self.inner.runtime.lock() {
            drop(rt.take());
        }
        result
    }
}

/// Runs `f` on a helper thread and waits at most `timeout`.
fn run_bounded(
    timeout: Duration,
    f: impl FnOnce() -> Vec<String> + Send + 'static,
) -> Result<(), ShutdownError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("baker-otel-shutdown".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if spawned.is_err() {
        return Err(ShutdownError::Provider(
            "could not spawn the shutdown thread".into(),
        ));
    }
    match rx.recv_timeout(timeout) {
        Ok(errs) if errs.is_empty() => Ok(()),
        Ok(errs) => {
            if errs
                .iter()
                .all(|e| e.contains("already shut down") || e.contains("AlreadyShutdown"))
            {
                Ok(())
            } else {
                Err(ShutdownError::Provider(errs.join("; ")))
            }
        }
        Err(_) => Err(ShutdownError::Timeout(timeout)),
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("baker-otel: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::level_filter;

    #[test]
    fn static_directives_use_targets_dynamic_ones_env_filter() {
        let (t, e) = level_filter("info,h2=warn,worker::agent=debug").unwrap();
        assert!(t.is_some() && e.is_none());
        let (t, e) = level_filter("info,[handle{job=1}]=debug").unwrap();
        assert!(t.is_none() && e.is_some());
        assert_eq!(level_filter("info,=[=").unwrap_err().name(), "RUST_LOG");
    }
}
