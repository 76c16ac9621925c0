//! [`TelemetryBuilder`]: settings, and the configuration they resolve to.

use crate::config::{
    BatchConfig, Config, EnvSource, ExporterKind, Protocol, SamplerConfig, Signal,
};
use crate::export::batch::BatchExporter;
use crate::export::LogItem;
use crate::logs::json::JsonSink;
use crate::resource::ResourceOverrides;
use crate::{ConfigError, InitError};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;
use std::sync::Arc;
use std::time::Duration;

/// A configuration edit; kept (not consumed) so that [`TelemetryBuilder::config`] can be called
/// any number of times before `init`/`build` without losing edits.
type ConfigEdit = Arc<dyn Fn(&mut Config) -> Result<(), ConfigError> + Send + Sync>;
pub(crate) type ExporterFactory<T> =
    Box<dyn FnOnce(&opentelemetry_sdk::Resource) -> Box<dyn BatchExporter<T>> + Send>;

/// What a test capture puts in place of the configured exporters (in-memory sinks).
#[cfg(feature = "testing")]
pub(crate) struct Overrides {
    pub(crate) spans: Box<dyn BatchExporter<Box<SpanData>>>,
    pub(crate) logs: Box<dyn BatchExporter<LogItem>>,
    pub(crate) metrics: crate::metrics::ExtraReader,
}

/// Explicit configuration. Builder settings win over environment variables. Finish with
/// [`init`](Self::init) (installs process-wide; what services call) or [`build`](Self::build)
/// (a scoped dispatcher, for tests and embedding).
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
    pub(crate) service_name: Option<String>,
    pub(crate) resource: ResourceOverrides,
    edits: Vec<ConfigEdit>,
    pub(crate) json_sink: JsonSink,
    pub(crate) registry: Option<crate::metrics::Registry>,
    pub(crate) extra_spans: Vec<ExporterFactory<Box<SpanData>>>,
    pub(crate) extra_logs: Vec<ExporterFactory<LogItem>>,
    /// The service's own `tracing` layers, stacked next to baker-otel's by `build`/`init`.
    pub(crate) layers: Vec<AddedLayer>,
    /// The spans tracing-opentelemetry's layer records.
    pub(crate) compat: crate::CompatSpans,
    /// The service's SDK plug-ins (`plugins.rs`).
    pub(crate) plugins: Plugins,
    #[cfg(feature = "testing")]
    pub(crate) overrides: Option<Overrides>,
}

/// The SDK plug-ins added with `with_sampler`, `with_span_processor`… (`plugins.rs`).
#[derive(Default)]
pub(crate) struct Plugins {
    pub(crate) spans: crate::span_layer::SpanPlugins,
    pub(crate) logs: Vec<Box<dyn opentelemetry_sdk::logs::LogProcessor>>,
}

/// A layer added with [`TelemetryBuilder::with_layer`].
pub(crate) type AddedLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static>;

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("service_name", &self.service_name)
            .field("layers", &self.layers.len())
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
            layers: Vec::new(),
            compat: crate::CompatSpans::default(),
            plugins: Plugins::default(),
            #[cfg(feature = "testing")]
            overrides: None,
        }
    }
}

impl TelemetryBuilder {
    fn edit(
        mut self,
        f: impl Fn(&mut Config) -> Result<(), ConfigError> + Send + Sync + 'static,
    ) -> Self {
        self.edits.push(Arc::new(f));
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
    /// `https://` endpoints use TLS (see [`otlp_certificate`](Self::otlp_certificate)); a gRPC
    /// endpoint without a scheme (`collector:4317`) gets `https://` unless
    /// [`otlp_insecure`](Self::otlp_insecure) was set before.
    pub fn otlp_endpoint(self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.edit(move |c| {
            for (s, sc) in [
                (Signal::Traces, &mut c.traces),
                (Signal::Metrics, &mut c.metrics),
                (Signal::Logs, &mut c.logs),
            ] {
                let url =
                    crate::config::with_grpc_scheme(url.clone(), sc.protocol, sc.tls.insecure);
                crate::config::validate_endpoint("otlp_endpoint", &url)?;
                sc.endpoint = crate::config::resolve_endpoint(Some(&url), s, sc.protocol);
            }
            Ok(())
        })
    }
    /// A PEM file of CA certificates to trust for `https://` OTLP endpoints, in addition to the
    /// system and webpki roots (like `OTEL_EXPORTER_OTLP_CERTIFICATE`; every signal). A missing
    /// file or one without a PEM certificate fails `init` with
    /// [`ConfigError::File`](crate::ConfigError::File) naming this method.
    ///
    /// ```
    /// let err = baker_otel::Telemetry::builder()
    ///     .otlp_certificate("/no/such/ca.pem")
    ///     .config()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("TelemetryBuilder::otlp_certificate"));
    /// ```
    pub fn otlp_certificate(self, path: impl Into<std::path::PathBuf>) -> Self {
        let path = path.into();
        self.edit(move |c| {
            for sc in [&mut c.traces, &mut c.metrics, &mut c.logs] {
                sc.tls.certificate = Some(path.clone());
                sc.tls.sources[0] = "TelemetryBuilder::otlp_certificate".into();
            }
            Ok(())
        })
    }
    /// The client certificate chain and private key (PEM files) for mutual TLS with every OTLP
    /// endpoint (like `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `…_CLIENT_KEY`).
    ///
    /// ```
    /// let err = baker_otel::Telemetry::builder()
    ///     .otlp_client_identity("/no/such/cert.pem", "/no/such/key.pem")
    ///     .config()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("TelemetryBuilder::otlp_client_identity"));
    /// ```
    pub fn otlp_client_identity(
        self,
        certificate: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        let (cert, key) = (certificate.into(), key.into());
        self.edit(move |c| {
            for sc in [&mut c.traces, &mut c.metrics, &mut c.logs] {
                sc.tls.client_certificate = Some(cert.clone());
                sc.tls.client_key = Some(key.clone());
                sc.tls.sources[1] = "TelemetryBuilder::otlp_client_identity (certificate)".into();
                sc.tls.sources[2] = "TelemetryBuilder::otlp_client_identity (key)".into();
            }
            Ok(())
        })
    }
    /// Like `OTEL_EXPORTER_OTLP_INSECURE`: a gRPC endpoint given without a scheme is reached in
    /// plaintext (`true`) or over TLS (`false`, the default). Call before
    /// [`otlp_endpoint`](Self::otlp_endpoint); endpoints with a scheme follow their scheme.
    ///
    /// ```
    /// let cfg = baker_otel::Telemetry::builder()
    ///     .otlp_insecure(true)
    ///     .otlp_endpoint("collector:4317")
    ///     .config()?;
    /// assert_eq!(cfg.traces.endpoint, "http://collector:4317");
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn otlp_insecure(self, insecure: bool) -> Self {
        self.edit(move |c| {
            for sc in [&mut c.traces, &mut c.metrics, &mut c.logs] {
                sc.tls.insecure = insecure;
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
    /// Adds a header (gRPC metadata) to every OTLP request, e.g. an API key. The value is
    /// treated as a secret: it is redacted in `Debug` output, errors and baker-otel's logs.
    pub fn otlp_header(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (k, v) = (key.into(), value.into());
        self.edit(move |c| {
            crate::config::check_header("TelemetryBuilder::otlp_header", 1, &k, &v)?;
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
            sc.exporters = kinds.clone();
            Ok(())
        })
    }
    /// Trace sampler, one of the SDK's (beats `OTEL_TRACES_SAMPLER`). For a sampler of your own,
    /// see [`with_sampler`](Self::with_sampler).
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
            c.log_filter = d.clone();
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
    /// Full access to the configuration after the environment was read.
    pub fn configure(self, f: impl Fn(&mut Config) + Send + Sync + 'static) -> Self {
        self.edit(move |c| {
            f(c);
            Ok(())
        })
    }

    /// Resolves the configuration (environment, then the builder's edits) without installing
    /// anything. The edits are kept: calling it and then `init` applies them again.
    ///
    /// ```
    /// let b = baker_otel::Telemetry::builder()
    ///     .env_source(baker_otel::config::EnvSource::from_pairs([("OTEL_SERVICE_NAME", "env-name")]))
    ///     .log_filter("debug");
    /// assert_eq!(b.config()?.log_filter, "debug");
    /// assert_eq!(b.config()?.log_filter, "debug"); // edits survive
    /// # Ok::<(), baker_otel::InitError>(())
    /// ```
    pub fn config(&self) -> Result<Config, InitError> {
        self.resolve().map(|(cfg, _)| cfg)
    }

    /// [`config`](Self::config), with the warnings about values it had to change.
    pub(crate) fn resolve(&self) -> Result<(Config, Vec<String>), InitError> {
        let mut cfg = Config::from_source(&self.env)?;
        if let Some(n) = &self.service_name {
            cfg.service_name = n.clone();
        }
        for e in &self.edits {
            e(&mut cfg)?;
        }
        for sc in [&cfg.traces, &cfg.metrics, &cfg.logs] {
            crate::config::check_tls(&sc.tls)?;
        }
        let warnings = crate::config::enforce_floors(&mut cfg);
        Ok((cfg, warnings))
    }
}
