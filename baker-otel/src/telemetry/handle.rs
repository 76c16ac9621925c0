//! [`TelemetryHandle`]: what integrations take from the hub (providers, propagation,
//! configuration, environment) and where they attach their own state.

use crate::config::{Config, EnvSource, Signal};
use crate::export::runtime::ExportRuntime;
use crate::export::DropCounters;
use crate::metrics::MetricsHandler;
use crate::propagation::Propagation;
use crate::SpanStarter;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::any::{Any, TypeId};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

type Attached = Arc<dyn Any + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) env: EnvSource,
    pub(crate) propagation: Propagation,
    pub(crate) tracer_provider: Option<SdkTracerProvider>,
    /// What the span layer's spans share (sampler, limits, export queue), for [`SpanStarter`].
    pub(crate) spans: Option<Arc<crate::span_layer::Shared>>,
    pub(crate) logger_provider: Option<SdkLoggerProvider>,
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    pub(crate) metrics_handler: Option<MetricsHandler>,
    pub(crate) drops: Arc<DropCounters>,
    pub(crate) runtime: Mutex<Option<ExportRuntime>>,
    pub(crate) shut_down: AtomicBool,
    attached: RwLock<Vec<(TypeId, Attached)>>,
}

/// The parts of a hub, before it is shared.
pub(crate) struct Parts {
    pub(crate) config: Config,
    pub(crate) env: EnvSource,
    pub(crate) runtime: Option<ExportRuntime>,
    pub(crate) tracer_provider: Option<SdkTracerProvider>,
    pub(crate) spans: Option<Arc<crate::span_layer::Shared>>,
    pub(crate) logger_provider: Option<SdkLoggerProvider>,
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    pub(crate) metrics_handler: Option<MetricsHandler>,
    pub(crate) drops: Arc<DropCounters>,
}

/// A shared handle to one telemetry hub: its providers, its [`Propagation`], its resolved
/// configuration and environment, and the state integrations attach to it. Cheap to clone;
/// dropping a handle does **not** shut anything down (the [`Telemetry`](crate::Telemetry)
/// guard does). A `&Telemetry` coerces to `&TelemetryHandle`, so integrations are built with
/// `Integration::new(&telemetry)`.
///
/// ```
/// let capture_env = baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")]);
/// let (telemetry, _dispatch) = baker_otel::Telemetry::builder().env_source(capture_env).build()?;
/// let handle: baker_otel::TelemetryHandle = telemetry.handle();
/// assert!(handle.config().disabled);
/// # Ok::<(), baker_otel::InitError>(())
/// ```
#[derive(Clone)]
pub struct TelemetryHandle {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for TelemetryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryHandle")
            .field("service_name", &self.inner.config.service_name)
            .finish_non_exhaustive()
    }
}

impl TelemetryHandle {
    pub(crate) fn new(p: Parts) -> Self {
        let metrics_handler = p.metrics_handler.or_else(|| {
            p.config
                .disabled
                .then(MetricsHandler::for_disabled_sdk)
                .flatten()
        });
        let propagation = Propagation::new(&p.config.propagators);
        Self {
            inner: Arc::new(Inner {
                config: p.config,
                env: p.env,
                propagation,
                tracer_provider: p.tracer_provider,
                spans: p.spans,
                logger_provider: p.logger_provider,
                meter_provider: p.meter_provider,
                metrics_handler,
                drops: p.drops,
                runtime: Mutex::new(p.runtime),
                shut_down: AtomicBool::new(false),
                attached: RwLock::new(Vec::new()),
            }),
        }
    }

    /// The hub of the current `tracing` dispatcher: the one [`init`](crate::init) installed,
    /// or a scoped one (a `testing::Capture` in scope, with the `testing` feature). `None` when no
    /// baker-otel subscriber is current.
    ///
    /// ```
    /// assert!(baker_otel::TelemetryHandle::current().is_none());
    /// ```
    pub fn current() -> Option<TelemetryHandle> {
        tracing::dispatcher::get_default(|d| d.downcast_ref::<HubLayer>().map(|h| h.0.clone()))
    }

    /// The resolved configuration.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert!(t.config().disabled);
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The environment the configuration was read from; integrations read their own
    /// variables (e.g. `BAKER_LLM_*`) from it.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert_eq!(t.env().get("OTEL_SDK_DISABLED").as_deref(), Some("true"));
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn env(&self) -> &EnvSource {
        &self.inner.env
    }

    /// The propagation every integration of this hub uses (`OTEL_PROPAGATORS`).
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert_eq!(t.propagation().fields().count(), 3);
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn propagation(&self) -> &Propagation {
        &self.inner.propagation
    }

    /// The meter provider (`None` when the SDK is disabled).
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert!(t.meter_provider().is_none());
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.inner.meter_provider.as_ref()
    }

    /// A meter of this hub's provider, or a no-op meter when the SDK is disabled.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// let counter = t.meter("my-crate").u64_counter("jobs").build();
    /// counter.add(1, &[]); // no-op here: the SDK is disabled
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn meter(&self, scope: &'static str) -> opentelemetry::metrics::Meter {
        use opentelemetry::metrics::MeterProvider as _;
        match &self.inner.meter_provider {
            Some(mp) => mp.meter(scope),
            None => opentelemetry::metrics::noop::NoopMeterProvider::new().meter(scope),
        }
    }

    /// The tracer provider (`None` when the SDK is disabled).
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert!(t.tracer_provider().is_none());
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.inner.tracer_provider.as_ref()
    }

    /// Starts spans straight into this hub's export queue under `scope`: the fast path
    /// integrations use for a span per request (see [`SpanStarter`]). With the SDK disabled the
    /// starter starts nothing.
    ///
    /// ```
    /// use opentelemetry::trace::{SpanBuilder, TraceContextExt};
    /// use opentelemetry::{Context, InstrumentationScope};
    ///
    /// let capture = baker_otel::testing::Capture::new();
    /// let starter = capture.telemetry().span_starter(InstrumentationScope::builder("db").build());
    /// let cx = starter.start(SpanBuilder::from_name("query"), &Context::new());
    /// drop(cx); // the last context holding the span: it ends
    /// assert_eq!(capture.spans().len(), 1);
    /// ```
    #[must_use]
    pub fn span_starter(&self, scope: opentelemetry::InstrumentationScope) -> SpanStarter {
        SpanStarter::new(self.inner.spans.clone(), scope)
    }

    /// The `/metrics` handler, when `prometheus` is among the metrics exporters
    /// (`OTEL_METRICS_EXPORTER`; feature `prometheus`), or an empty one while the SDK is disabled.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert!(t.metrics_handler().is_some()); // an empty registry while disabled
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn metrics_handler(&self) -> Option<&MetricsHandler> {
        self.inner.metrics_handler.as_ref()
    }

    /// Items dropped so far for `signal`: spans or log records lost to a full queue, a failed
    /// export, a collector's partial rejection or the shutdown deadline; for
    /// [`Signal::Metrics`], metric exports lost (each a whole collection) — the final export
    /// at [`shutdown`](crate::Telemetry::shutdown) when it fails or misses the deadline.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert_eq!(t.dropped(baker_otel::Signal::Traces), 0);
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn dropped(&self, signal: Signal) -> u64 {
        self.inner.drops.get(signal)
    }

    /// Attaches integration state of type `T` to this hub, replacing earlier state of the same
    /// type. Integrations use it so that everything built from one hub shares one state.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// struct Mine(u32);
    /// t.attach(std::sync::Arc::new(Mine(7)));
    /// assert_eq!(t.attached::<Mine>().unwrap().0, 7);
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn attach<T: Any + Send + Sync>(&self, state: Arc<T>) {
        let id = TypeId::of::<T>();
        if let Ok(mut list) = self.inner.attached.write() {
            list.retain(|(t, _)| *t != id);
            list.push((id, state));
        }
    }

    /// The state of type `T` attached to this hub.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert!(t.attached::<String>().is_none());
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn attached<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let id = TypeId::of::<T>();
        let list = self.inner.attached.read().ok()?;
        let (_, any) = list.iter().find(|(t, _)| *t == id)?;
        any.clone().downcast::<T>().ok()
    }

    /// The state of type `T`, attaching `make(self)` first when there is none (atomically:
    /// concurrent callers get the same state).
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// let a = t.attached_or_insert_with(|_| std::sync::Arc::new(1u8));
    /// let b = t.attached_or_insert_with(|_| std::sync::Arc::new(2u8));
    /// assert_eq!((*a, *b), (1, 1));
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn attached_or_insert_with<T: Any + Send + Sync>(
        &self,
        make: impl FnOnce(&TelemetryHandle) -> Arc<T>,
    ) -> Arc<T> {
        if let Some(t) = self.attached::<T>() {
            return t;
        }
        let made = make(self);
        let id = TypeId::of::<T>();
        let Ok(mut list) = self.inner.attached.write() else {
            return made;
        };
        if let Some((_, any)) = list.iter().find(|(t, _)| *t == id) {
            if let Ok(t) = any.clone().downcast::<T>() {
                return t;
            }
        }
        list.push((id, made.clone()));
        made
    }

    /// Whether both handles belong to the same hub.
    ///
    /// ```
    /// # let (t, _) = baker_otel::Telemetry::builder().env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")])).build()?;
    /// assert!(t.handle().same_hub(&t));
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn same_hub(&self, other: &TelemetryHandle) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Carries the hub in its `tracing` subscriber so that [`TelemetryHandle::current`] finds it
/// through `Dispatch::downcast_ref`. Its one callback tells the span pipeline which dispatcher
/// it is part of.
pub(crate) struct HubLayer(pub(crate) TelemetryHandle);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for HubLayer {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        if let Some(spans) = &self.0.inner.spans {
            spans.dispatch.set(subscriber);
        }
    }
}
