//! Assembly: one pipeline per signal (each built by its own module: `metrics`, `logs::otlp`,
//! `traces`), wired into one `tracing` dispatcher that carries the hub.

use super::builder::TelemetryBuilder;
use super::guard::Telemetry;
use super::handle::{HubLayer, Parts, TelemetryHandle};
use crate::export::batch::BatchExporter;
use crate::export::runtime::ExportRuntime;
use crate::export::DropCounters;
use crate::export::LogItem;
use crate::logs::json::JsonLayer;
use crate::logs::otlp::LogBridge;
use crate::span_layer::SpanLayer;
use crate::{ConfigError, InitError};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::trace::SpanData;
use std::sync::{Arc, Mutex};
use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

impl TelemetryBuilder {
    /// Builds the pipelines and installs them process-wide: the `tracing` subscriber, the
    /// OpenTelemetry tracer/meter providers and the propagator. Once per process
    /// ([`InitError::AlreadyInitialized`] otherwise).
    ///
    /// ```no_run
    /// let telemetry = baker_otel::Telemetry::builder().service_name("worker").init()?;
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn init(self) -> Result<Telemetry, InitError> {
        let (telemetry, dispatch) = self.build()?;
        if let Err(e) = super::install::install_global(&telemetry, Some(dispatch)) {
            let _ = telemetry.shutdown();
            return Err(e);
        }
        Ok(telemetry)
    }

    /// Builds every pipeline and returns the hub plus a `tracing` dispatcher **without
    /// installing anything globally**. Services call [`init`](Self::init); this is for embedding
    /// the subscriber in a scope (`tracing::dispatcher::with_default`), for benchmarks and tests.
    /// Inside that scope, [`TelemetryHandle::current`] is this hub.
    ///
    /// ```
    /// let (telemetry, dispatch) = baker_otel::Telemetry::builder()
    ///     .env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")]))
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::info!("scoped");
    ///     assert!(baker_otel::TelemetryHandle::current().unwrap().same_hub(&telemetry));
    /// });
    /// telemetry.shutdown().unwrap();
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn build(mut self) -> Result<(Telemetry, tracing::Dispatch), InitError> {
        let added = std::mem::take(&mut self.layers);
        let mut pieces = self.assemble()?;
        let warnings = std::mem::take(&mut pieces.warnings);
        let telemetry = pieces.telemetry.clone();
        let dispatch = if added.is_empty() {
            pieces.dispatch()
        } else {
            // The service's layers sit on the registry; baker-otel's filter becomes a per-layer
            // filter so that it does not decide for them.
            tracing::Dispatch::new(
                tracing_subscriber::registry()
                    .with(added)
                    .with(pieces.layers()),
            )
        };
        // Logged through the service's own pipeline, so the warning lands where its logs go.
        tracing::dispatcher::with_default(&dispatch, || log_warnings(&warnings));
        Ok((Telemetry { hub: telemetry }, dispatch))
    }

    /// Builds the hub and baker-otel's own layers (level filter, span layer, JSON lines, OTLP log
    /// bridge) without stacking them.
    pub(crate) fn assemble(&mut self) -> Result<Pieces, InitError> {
        let (cfg, warnings) = self.resolve()?;
        let directives = self.compat.directives(&quiet_sdk(&cfg.log_filter));
        let (targets, env_filter) = level_filter(&directives)?;
        let json = cfg.json_logs.then(|| {
            JsonLayer::new(&cfg.service_name, self.json_sink.clone()).with_secrets(secrets(&cfg))
        });
        let drops = Arc::new(DropCounters::default());
        let env = self.env.clone();

        if cfg.disabled {
            let hub = TelemetryHandle::new(Parts {
                config: cfg,
                env,
                runtime: None,
                tracer_provider: None,
                spans: None,
                logger_provider: None,
                meter_provider: None,
                metrics_handler: None,
                drops,
            });
            return Ok(Pieces {
                telemetry: hub,
                targets,
                env_filter,
                spans: None,
                json,
                logs: None,
                warnings,
            });
        }

        let runtime = ExportRuntime::start()?;
        let handle = runtime.handle();
        let resource = crate::resource::build(&cfg, &self.resource, &self.env);

        let (extra_logs, extra_spans, extra_reader) = self.take_extra_exporters(&resource);
        let plugins = std::mem::take(&mut self.plugins);

        // Meter → logger → tracer (shutdown runs the other way round).
        let meter = crate::metrics::build(
            &cfg,
            resource.clone(),
            &runtime.bridge(),
            self.registry.take(),
            extra_reader,
        )?;
        crate::metrics::register_internal(&meter.provider, drops.clone());
        let logger_provider = crate::logs::otlp::pipeline(
            &cfg,
            &handle,
            &resource,
            extra_logs,
            drops.logs.clone(),
            plugins.logs,
        )?;
        let (tracer_provider, otel_layer) = crate::traces::pipeline(
            &cfg,
            &handle,
            &resource,
            extra_spans,
            drops.traces.clone(),
            self.compat.clone(),
            plugins.spans,
        )?;
        // Feedback targets are refused in BakerLogProcessor::event_enabled (no per-layer filter).
        let log_layer = logger_provider
            .as_ref()
            .map(|p| LogBridge(OpenTelemetryTracingBridge::new(p)));
        let hub = TelemetryHandle::new(Parts {
            config: cfg,
            env,
            runtime: Some(runtime),
            tracer_provider: Some(tracer_provider),
            spans: Some(otel_layer.shared.clone()),
            logger_provider,
            meter_provider: Some(meter.provider),
            metrics_handler: meter.handler,
            drops,
        });
        Ok(Pieces {
            telemetry: hub,
            targets,
            env_filter,
            spans: Some(otel_layer),
            json,
            logs: log_layer,
            warnings,
        })
    }
}

/// baker-otel's layers and the hub they carry, before they are stacked: either into a
/// dispatcher of their own ([`Pieces::dispatch`]) or, next to other layers, as one layer with a
/// per-layer filter ([`Pieces::layers`]).
pub(crate) struct Pieces {
    pub(crate) telemetry: TelemetryHandle,
    targets: Option<Targets>,
    env_filter: Option<EnvFilter>,
    /// `None` when the SDK is disabled.
    spans: Option<SpanLayer>,
    json: Option<JsonLayer>,
    logs: Option<LogBridge>,
    /// What configuration resolution had to change, to be logged through these layers.
    pub(crate) warnings: Vec<String>,
}

impl Pieces {
    /// baker-otel alone: the level filter is global (no per-layer filter bookkeeping on the hot
    /// path) and, with the SDK disabled, spans are not even created.
    fn dispatch(self) -> tracing::Dispatch {
        let hub = HubLayer(self.telemetry);
        let registry = tracing_subscriber::registry();
        match self.spans {
            None => tracing::Dispatch::new(
                registry
                    .with(crate::logs::json::NoSpans)
                    .with(self.targets)
                    .with(self.env_filter)
                    .with(self.json)
                    .with(hub),
            ),
            Some(otel_layer) => {
                // tracing-opentelemetry's layers outermost: they hold per-layer filters, and
                // every close walks the layers below it (`Layered::try_close` looks for the
                // registry), so on top they are walked once rather than at every level.
                let compat = otel_layer.compat_layers();
                tracing::Dispatch::new(
                    registry
                        .with(self.targets)
                        .with(self.env_filter)
                        .with(otel_layer)
                        .with(self.json)
                        .with(self.logs)
                        .with(hub)
                        .with(compat),
                )
            }
        }
    }

    /// baker-otel as one layer among the service's: the same layers in the same order, under a
    /// per-layer filter (`RUST_LOG` / [`log_filter`](TelemetryBuilder::log_filter)) that decides
    /// for them only. Warnings left in `self.warnings` are logged through the subscriber this
    /// layer ends up in, once it becomes a dispatcher.
    pub(crate) fn layers<S>(self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let filter = FilterExt::<S>::and(self.targets, self.env_filter);
        let compat = self.spans.as_ref().and_then(SpanLayer::compat_layers);
        // `Layer::and_then`, not `Option::and_then`.
        Layer::<S>::and_then(self.spans, self.json)
            .and_then(self.logs)
            .and_then(HubLayer(self.telemetry))
            .and_then(PendingWarnings(Mutex::new(self.warnings)))
            .and_then(compat)
            .with_filter(filter)
    }
}

/// Logs configuration warnings through the dispatcher it is registered with (the one a service
/// builds around [`Pieces::layers`]), once.
///
/// Not from inside `on_register_dispatch` itself: tracing calls it while it holds the callsite
/// registry, and a `warn!` there registers a callsite, which waits for that same registry (a
/// deadlock). A short-lived thread logs them once the registration has finished.
struct PendingWarnings(Mutex<Vec<String>>);

impl<S: Subscriber> Layer<S> for PendingWarnings {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let warnings = self.0.lock().map(|mut w| std::mem::take(&mut *w));
        if let Some(w) = warnings.ok().filter(|w| !w.is_empty()) {
            let dispatch = subscriber.clone();
            let _ = std::thread::Builder::new()
                .name("baker-otel-config-warnings".into())
                .spawn(move || {
                    // Waits for the registration to finish (the registry lock) and brings the
                    // global max level up to this dispatcher's: before that, with no other
                    // dispatcher in the process, every event would be skipped as disabled.
                    tracing::callsite::rebuild_interest_cache();
                    tracing::dispatcher::with_default(&dispatch, || log_warnings(&w));
                });
        }
    }
}

fn log_warnings(warnings: &[String]) {
    for w in warnings {
        tracing::warn!(target: crate::INTERNAL_TARGET, "{w}");
    }
}

/// Exporters added next to the configured ones: logs, spans, and an extra metric reader.
type Extras = (
    Vec<Box<dyn BatchExporter<LogItem>>>,
    Vec<Box<dyn BatchExporter<Box<SpanData>>>>,
    Option<crate::metrics::ExtraReader>,
);

impl TelemetryBuilder {
    /// The exporters added next to the configured ones: the user's, and a test capture's
    /// in-memory sinks (a capture's builder selects no other exporter).
    #[cfg_attr(not(feature = "testing"), allow(unused_mut))]
    fn take_extra_exporters(&mut self, resource: &opentelemetry_sdk::Resource) -> Extras {
        let mut logs: Vec<_> = self.extra_logs.drain(..).map(|f| f(resource)).collect();
        let mut spans: Vec<_> = self.extra_spans.drain(..).map(|f| f(resource)).collect();
        #[cfg(feature = "testing")]
        if let Some(o) = self.overrides.take() {
            logs.push(o.logs);
            spans.push(o.spans);
            return (logs, spans, Some(o.metrics));
        }
        (logs, spans, None)
    }
}

/// The header values of every signal: secrets that the JSON lines of the exporters' own events
/// (tonic, hyper, the OpenTelemetry SDK…) must never show.
fn secrets(cfg: &crate::Config) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sc in [&cfg.traces, &cfg.metrics, &cfg.logs] {
        for (_, v) in &sc.headers {
            if !v.is_empty() && !out.contains(v) {
                out.push(v.clone());
            }
        }
    }
    out
}

/// The OpenTelemetry SDK's own events (`opentelemetry`, `opentelemetry_sdk`,
/// `opentelemetry-otlp`… — "Global tracer provider is set", channel set-up) are kept at WARN and
/// above unless the directives name an `opentelemetry` target themselves
/// (`RUST_LOG=info,opentelemetry=debug`) or are quieter than INFO anyway.
pub(crate) fn quiet_sdk(directives: &str) -> String {
    use tracing::level_filters::LevelFilter;
    if directives.contains("opentelemetry") {
        return directives.to_owned();
    }
    let verbose = match directives.parse::<Targets>() {
        Ok(t) => t.would_enable("opentelemetry", &tracing::Level::INFO),
        Err(_) => EnvFilter::try_new(directives)
            .ok()
            .and_then(|f| f.max_level_hint())
            .is_some_and(|l| l >= LevelFilter::INFO),
    };
    if verbose {
        format!("{directives},opentelemetry=warn")
    } else {
        directives.to_owned()
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

#[cfg(test)]
mod tests {
    use super::{level_filter, quiet_sdk};

    #[test]
    fn sdk_chatter_is_quiet_unless_asked_for() {
        assert_eq!(quiet_sdk("info"), "info,opentelemetry=warn");
        assert_eq!(quiet_sdk("trace"), "trace,opentelemetry=warn");
        assert_eq!(quiet_sdk("error"), "error", "never louder than asked");
        assert_eq!(
            quiet_sdk("info,opentelemetry=debug"),
            "info,opentelemetry=debug"
        );
        assert_eq!(
            quiet_sdk("info,[handle{job=1}]=debug"),
            "info,[handle{job=1}]=debug,opentelemetry=warn"
        );
        let (t, _) = level_filter(&quiet_sdk("info")).unwrap();
        let t = t.unwrap();
        assert!(!t.would_enable("opentelemetry_sdk", &tracing::Level::INFO));
        assert!(!t.would_enable("opentelemetry-otlp", &tracing::Level::DEBUG));
        assert!(t.would_enable("opentelemetry_sdk", &tracing::Level::WARN));
        assert!(t.would_enable("brain", &tracing::Level::INFO));
    }

    #[test]
    fn static_directives_use_targets_dynamic_ones_env_filter() {
        let (t, e) = level_filter("info,h2=warn,worker::agent=debug").unwrap();
        assert!(t.is_some() && e.is_none());
        let (t, e) = level_filter("info,[handle{job=1}]=debug").unwrap();
        assert!(t.is_none() && e.is_some());
        assert_eq!(level_filter("info,=[=").unwrap_err().name(), "RUST_LOG");
    }
}
