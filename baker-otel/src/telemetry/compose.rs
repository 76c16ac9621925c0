//! Composition with the service's own `tracing` layers, both ways: add them to baker-otel's
//! subscriber ([`TelemetryBuilder::with_layer`]), or put baker-otel's layers into a subscriber
//! the service builds ([`TelemetryBuilder::init_layers`], [`TelemetryBuilder::build_layers`]).

use super::builder::TelemetryBuilder;
use super::guard::Telemetry;
use crate::{ConfigError, InitError};
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

impl TelemetryBuilder {
    /// Adds a `tracing` layer of the service's own (`tracing-error`'s `ErrorLayer`, a
    /// `tracing-appender` file writer, `console-subscriber`, Sentry…) to the subscriber that
    /// [`init`](Self::init) installs and [`build`](Self::build) returns. Call it once per layer.
    ///
    /// Each added layer sees what **its own** filter lets through: give it one with
    /// [`Layer::with_filter`] (an unfiltered layer sees every span and event, down to `TRACE`).
    /// `RUST_LOG` / [`log_filter`](Self::log_filter) then filters baker-otel's layers only (spans,
    /// JSON lines, OTLP log records), as a per-layer filter. Without added layers, the subscriber
    /// is exactly the one `init` installs otherwise (a global filter, nothing more per event).
    /// [`TelemetryHandle::current`](crate::TelemetryHandle::current), integrations built from the
    /// hub and the scoped test `testing::Capture` (feature `testing`) keep working.
    ///
    /// ```
    /// use baker_otel::config::EnvSource;
    /// use tracing_subscriber::{filter::Targets, Layer as _};
    ///
    /// // Audit events, and only those, also go to a file of their own (here: a buffer).
    /// let audit_file = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    /// let writer = audit_file.clone();
    /// let audit = tracing_subscriber::fmt::layer()
    ///     .with_writer(move || Writer(writer.clone()))
    ///     .with_ansi(false)
    ///     .with_filter(Targets::new().with_target("audit", tracing::Level::INFO));
    ///
    /// let (telemetry, dispatch) = baker_otel::Telemetry::builder()
    ///     .env_source(EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")]))
    ///     .json_logs(false)
    ///     .with_layer(audit)
    ///     .with_layer(tracing_error::ErrorLayer::default())
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::info!(target: "audit", user = "ada", "login");
    ///     tracing::info!("not audited");
    ///     assert!(baker_otel::TelemetryHandle::current().unwrap().same_hub(&telemetry));
    /// });
    /// let written = String::from_utf8(audit_file.lock().unwrap().clone()).unwrap();
    /// assert!(written.contains("login") && written.contains("user=\"ada\""));
    /// assert!(!written.contains("not audited"));
    ///
    /// struct Writer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    /// impl std::io::Write for Writer {
    ///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    #[must_use = "the layer is added to the builder this returns"]
    pub fn with_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Registry> + Send + Sync + 'static,
    {
        self.layers.push(Box::new(layer));
        self
    }

    /// Which `tracing` spans are recorded by tracing-opentelemetry's own layer (with baker-otel's
    /// pipeline behind it) instead of baker-otel's faster one: those of crates that call
    /// `tracing_opentelemetry::OpenTelemetrySpanExt` (axum-tracing-opentelemetry,
    /// tonic-tracing-opentelemetry, in-house middlewares). Default [`CompatSpans::off`] (with a
    /// warning when such a crate's span shows up): turning it on costs every span a little
    /// (README, "Crates built on tracing-opentelemetry").
    ///
    /// [`CompatSpans::off`]: crate::CompatSpans::off
    ///
    /// ```
    /// use baker_otel::CompatSpans;
    ///
    /// let builder = baker_otel::Telemetry::builder()
    ///     .compat_spans(CompatSpans::auto().with_target("acme_http_middleware"));
    /// # drop(builder);
    /// ```
    pub fn compat_spans(mut self, spans: crate::CompatSpans) -> Self {
        self.compat = spans;
        self
    }

    /// Builds every pipeline and installs the OpenTelemetry globals (tracer and meter providers,
    /// propagator) like [`init`](Self::init), but instead of a subscriber returns baker-otel's
    /// layers, for a subscriber the service builds and installs itself. Once per process, like
    /// `init`.
    ///
    /// The returned layer holds baker-otel's span layer, JSON lines, OTLP log bridge and the hub,
    /// under a per-layer filter from `RUST_LOG` / [`log_filter`](Self::log_filter) that decides
    /// for them only. Put it anywhere in the stack; [`TelemetryHandle::current`] finds the hub in
    /// the installed subscriber. Configuration warnings are logged through that subscriber once
    /// it becomes a dispatcher. To name its type (to store it), `.boxed()` it.
    ///
    /// Layers given to [`with_layer`](Self::with_layer) belong to baker-otel's own subscriber:
    /// here they are refused ([`ConfigError`]); add them to your subscriber instead.
    ///
    /// [`TelemetryHandle::current`]: crate::TelemetryHandle::current
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// use tracing_subscriber::util::SubscriberInitExt as _;
    ///
    /// let (telemetry, baker) = baker_otel::Telemetry::builder().service_name("worker").init_layers()?;
    /// tracing_subscriber::registry()
    ///     .with(baker)
    ///     .with(tracing_error::ErrorLayer::default())
    ///     .init();
    /// tracing::info!("started");
    /// # drop(telemetry);
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn init_layers<S>(
        self,
    ) -> Result<(Telemetry, impl Layer<S> + Send + Sync + 'static), InitError>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let (telemetry, layers) = self.build_layers()?;
        if let Err(e) = super::install::install_global(&telemetry, None) {
            let _ = telemetry.shutdown();
            return Err(e);
        }
        Ok((telemetry, layers))
    }

    /// [`init_layers`](Self::init_layers) without installing anything globally: for a scoped
    /// subscriber, tests and benchmarks.
    ///
    /// ```
    /// use baker_otel::config::EnvSource;
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// let (telemetry, baker) = baker_otel::Telemetry::builder()
    ///     .env_source(EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")]))
    ///     .json_logs(false)
    ///     .build_layers()?;
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(baker)
    ///     .with(tracing_error::ErrorLayer::default());
    /// tracing::subscriber::with_default(subscriber, || {
    ///     let span = tracing::info_span!("job");
    ///     let _e = span.enter();
    ///     let trace = tracing_error::SpanTrace::capture();
    ///     assert!(trace.to_string().contains("job"));
    ///     assert!(baker_otel::TelemetryHandle::current().unwrap().same_hub(&telemetry));
    /// });
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn build_layers<S>(
        mut self,
    ) -> Result<(Telemetry, impl Layer<S> + Send + Sync + 'static), InitError>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        if !self.layers.is_empty() {
            return Err(ConfigError::invalid(
                "TelemetryBuilder::with_layer",
                &format!("{} layer(s)", self.layers.len()),
                "build_layers/init_layers return baker-otel's layers for your own subscriber: \
                 add your layers to that subscriber instead",
            )
            .into());
        }
        let pieces = self.assemble()?;
        let telemetry = Telemetry {
            hub: pieces.telemetry.clone(),
        };
        Ok((telemetry, pieces.layers()))
    }
}
