//! Configuration: the settings `init()` uses, read from the standard `OTEL_*` environment
//! variables and overridable from the [`TelemetryBuilder`](crate::TelemetryBuilder).
//!
//! Precedence, highest first: builder method → signal-specific variable
//! (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) → generic variable (`OTEL_EXPORTER_OTLP_ENDPOINT`) →
//! specification default.

mod env;
mod exporters;
mod redact;
mod source;
pub(crate) mod tls;
mod values;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use env::{resolve_endpoint, validate_endpoint};
pub(crate) use exporters::Compiled;
pub use exporters::ExporterKind;
pub use source::EnvSource;
pub(crate) use tls::check_tls;
pub(crate) use values::{check_header, with_grpc_scheme};

/// Which signal a setting belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
    /// Log records.
    Logs,
}

impl Signal {
    /// Lower-case name as used in metric attributes and env vars (`traces`, `metrics`, `logs`).
    ///
    /// ```
    /// assert_eq!(baker_otel::config::Signal::Logs.as_str(), "logs");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
    pub(crate) fn env_upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }
    pub(crate) fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}

/// OTLP wire protocol (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `grpc` (default; port 4317).
    Grpc,
    /// `http/protobuf` (port 4318).
    HttpProtobuf,
    /// `http/json` (port 4318).
    HttpJson,
}

impl Protocol {
    /// The value as written in `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }
}

/// OTLP payload compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// `gzip`.
    Gzip,
}

pub use crate::error::REDACTED;

/// Export settings for one signal.
///
/// Its `Debug` output shows header names but never header values, and the endpoint without
/// its userinfo (`http://user:password@host` shows as `http://[REDACTED]@host`).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SignalConfig {
    /// Exporters for this signal; empty means `none`.
    pub exporters: Vec<ExporterKind>,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Full endpoint URL (for HTTP it includes the `/v1/<signal>` path). An `https://` endpoint
    /// is reached over TLS (rustls; system roots, webpki roots and [`TlsConfig::certificate`]).
    pub endpoint: String,
    /// Extra headers / gRPC metadata (e.g. an API key). Values are secrets: they are redacted in
    /// every `Debug` output and error.
    pub headers: Vec<(String, String)>,
    /// Per-export timeout.
    pub timeout: Duration,
    /// Payload compression.
    pub compression: Option<Compression>,
    /// TLS settings for `https://` endpoints.
    pub tls: TlsConfig,
}

impl std::fmt::Debug for SignalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, _)| (k.as_str(), REDACTED))
            .collect();
        f.debug_struct("SignalConfig")
            .field("exporters", &self.exporters)
            .field("protocol", &self.protocol)
            .field("endpoint", &redact::redact_userinfo(&self.endpoint))
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("tls", &self.tls)
            .finish()
    }
}

/// TLS settings of one signal's OTLP connection (`OTEL_EXPORTER_OTLP_{,TRACES_,METRICS_,LOGS_}`
/// `CERTIFICATE`, `CLIENT_CERTIFICATE`, `CLIENT_KEY`, `INSECURE`).
///
/// The server certificate is always verified: against the system roots, the webpki (Mozilla)
/// roots and, when set, [`certificate`](Self::certificate). Files are read and checked when the
/// configuration is resolved; a missing file or one without usable PEM is a
/// [`ConfigError::File`](crate::ConfigError::File) naming the variable or builder method.
///
/// ```
/// use baker_otel::config::{Config, EnvSource};
/// let err = Config::from_source(&EnvSource::from_pairs([
///     ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/does/not/exist.pem"),
/// ])).unwrap_err();
/// assert_eq!(err.name(), "OTEL_EXPORTER_OTLP_CERTIFICATE");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// PEM file of CA certificates trusted in addition to the system and webpki roots.
    pub certificate: Option<PathBuf>,
    /// PEM file of the client certificate chain, for mTLS (with [`client_key`](Self::client_key)).
    pub client_certificate: Option<PathBuf>,
    /// PEM file of the client's private key, for mTLS.
    pub client_key: Option<PathBuf>,
    /// `OTEL_EXPORTER_OTLP_INSECURE`: for a gRPC endpoint written without a scheme
    /// (`collector:4317`), `true` means plaintext (`http://`), `false` (default) TLS (`https://`).
    /// An endpoint with a scheme follows its scheme.
    pub insecure: bool,
    /// Names of the settings the three files came from, for errors.
    pub(crate) sources: [String; 3],
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            certificate: None,
            client_certificate: None,
            client_key: None,
            insecure: false,
            sources: [
                "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE".into(),
                "OTEL_EXPORTER_OTLP_CLIENT_KEY".into(),
            ],
        }
    }
}

impl TlsConfig {
    pub(crate) fn source(&self, i: usize) -> &str {
        &self.sources[i]
    }
}

/// Sampler (`OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum SamplerConfig {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with a ratio in `[0, 1]`.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default).
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`.
    ParentBasedTraceIdRatio(f64),
}

/// Batch processor settings (`OTEL_BSP_*` for spans, `OTEL_BLRP_*` for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchConfig {
    /// Maximum queued items; beyond this new items are dropped and counted.
    pub max_queue_size: usize,
    /// Delay between two exports. At least [`MIN_SCHEDULED_DELAY`]: a smaller value (e.g.
    /// `OTEL_BSP_SCHEDULE_DELAY=0`) is raised to it, with a warning, when the telemetry is
    /// built.
    pub scheduled_delay: Duration,
    /// Maximum items per export request.
    pub max_export_batch_size: usize,
    /// Timeout of one export call.
    pub export_timeout: Duration,
    /// Largest export request, in protobuf-encoded bytes estimated from above
    /// (`BAKER_OTEL_EXPORT_MAX_BYTES`, default 3 MiB, below the collectors' usual 4 MiB gRPC
    /// receive limit). The per-item estimates never undercount (`tracestate`s, links, events and
    /// every attribute type included, checked against the encoder by property tests); a request
    /// adds the encoded resource once. A batch that would be larger is split across requests,
    /// never dropped; one item larger than this is sent alone.
    pub max_export_batch_bytes: usize,
}

/// The smallest [`BatchConfig::scheduled_delay`]: 10 ms.
///
/// The specification and the upstream SDKs set no floor, so `OTEL_BSP_SCHEDULE_DELAY=0` (or
/// `OTEL_BLRP_SCHEDULE_DELAY=0`) would wake the export worker in a tight loop of tiny exports.
/// [`TelemetryBuilder::config`](crate::TelemetryBuilder::config) raises smaller values to this
/// one and `init`/`build` log a warning naming the variable. Full batches are still exported as
/// soon as they fill up, so the floor costs no throughput.
///
/// ```
/// use baker_otel::config::{EnvSource, MIN_SCHEDULED_DELAY};
/// let cfg = baker_otel::Telemetry::builder()
///     .env_source(EnvSource::from_pairs([("OTEL_BSP_SCHEDULE_DELAY", "0")]))
///     .config()?;
/// assert_eq!(cfg.span_batch.scheduled_delay, MIN_SCHEDULED_DELAY);
/// # Ok::<(), baker_otel::InitError>(())
/// ```
pub const MIN_SCHEDULED_DELAY: Duration = Duration::from_millis(10);

/// Raises the batch delays below [`MIN_SCHEDULED_DELAY`]; returns one warning per change.
pub(crate) fn enforce_floors(cfg: &mut Config) -> Vec<String> {
    let mut warnings = Vec::new();
    for (batch, what, var) in [
        (&mut cfg.span_batch, "span", "OTEL_BSP_SCHEDULE_DELAY"),
        (&mut cfg.log_batch, "log", "OTEL_BLRP_SCHEDULE_DELAY"),
    ] {
        if batch.scheduled_delay < MIN_SCHEDULED_DELAY {
            warnings.push(format!(
                "{what} batch scheduled delay ({var}) of {:?} is below the {MIN_SCHEDULED_DELAY:?} floor; using {MIN_SCHEDULED_DELAY:?}",
                batch.scheduled_delay
            ));
            batch.scheduled_delay = MIN_SCHEDULED_DELAY;
        }
    }
    warnings
}

/// Default of [`BatchConfig::max_export_batch_bytes`]: 3 MiB.
pub const DEFAULT_EXPORT_MAX_BYTES: usize = 3 * 1024 * 1024;

impl BatchConfig {
    pub(crate) const SPANS: BatchConfig = BatchConfig {
        max_queue_size: 2048,
        scheduled_delay: Duration::from_millis(5000),
        max_export_batch_size: 512,
        export_timeout: Duration::from_secs(30),
        max_export_batch_bytes: DEFAULT_EXPORT_MAX_BYTES,
    };
    pub(crate) const LOGS: BatchConfig = BatchConfig {
        max_queue_size: 2048,
        scheduled_delay: Duration::from_millis(1000),
        max_export_batch_size: 512,
        export_timeout: Duration::from_secs(30),
        max_export_batch_bytes: DEFAULT_EXPORT_MAX_BYTES,
    };
}

/// Size limits that keep one runaway value from bloating memory and export requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest string attribute value on spans and span events, in bytes; longer values are cut on a char
    /// boundary and end with `…[truncated]` (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`; baker-otel default 16 KiB — the spec's is unlimited).
    pub attribute_value_length: usize,
    /// Attributes kept per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, else
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`, default 128); extra ones are dropped and counted by the SDK.
    pub attribute_count: u32,
    /// Events kept per span (`OTEL_SPAN_EVENT_COUNT_LIMIT`, default 128).
    pub event_count: u32,
    /// Links kept per span (`OTEL_SPAN_LINK_COUNT_LIMIT`, default 128).
    pub link_count: u32,
    /// Longest string value of a log record's body and attributes, in bytes, cut like span
    /// attributes (`OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`; default 16 KiB). Span-event attributes follow
    /// [`attribute_value_length`](Self::attribute_value_length).
    pub log_attribute_value_length: usize,
    /// Attributes kept per log record (`OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`, else
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`, default 128); extra ones are dropped.
    pub log_attribute_count: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            attribute_value_length: 16 * 1024,
            attribute_count: 128,
            event_count: 128,
            link_count: 128,
            log_attribute_value_length: 16 * 1024,
            log_attribute_count: 128,
        }
    }
}

/// A text-map propagator named in `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropagatorKind {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
}

/// Everything `init()` needs. Build it with [`Config::from_env`] or through the
/// [`TelemetryBuilder`](crate::TelemetryBuilder).
///
/// ```
/// use baker_otel::config::{Config, EnvSource};
/// let cfg = Config::from_source(&EnvSource::from_pairs([
///     ("OTEL_SERVICE_NAME", "brain"),
///     ("OTEL_TRACES_SAMPLER", "traceidratio"),
///     ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
/// ])).unwrap();
/// assert_eq!(cfg.service_name, "brain");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// `service.name` (`OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`,
    /// else `unknown_service:<executable>`).
    pub service_name: String,
    /// Extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES`), in order.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_SDK_DISABLED=true`: no exporter, no global subscriber state beyond the JSON logs.
    pub disabled: bool,
    /// Trace export.
    pub traces: SignalConfig,
    /// Metric export.
    pub metrics: SignalConfig,
    /// Log export.
    pub logs: SignalConfig,
    /// Trace sampler.
    pub sampler: SamplerConfig,
    /// `OTEL_METRIC_EXPORT_INTERVAL` (default 60 s).
    pub metric_export_interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT` (default 30 s).
    pub metric_export_timeout: Duration,
    /// Span batching (`OTEL_BSP_*`).
    pub span_batch: BatchConfig,
    /// Log batching (`OTEL_BLRP_*`).
    pub log_batch: BatchConfig,
    /// `OTEL_PROPAGATORS` (default `tracecontext,baggage`).
    pub propagators: Vec<PropagatorKind>,
    /// Level filter directives (`RUST_LOG`, default `info`).
    pub log_filter: String,
    /// Write JSON log lines to stdout (`BAKER_OTEL_JSON_LOGS`, default true).
    pub json_logs: bool,
    /// Attribute size and count limits.
    pub limits: Limits,
    /// Overall deadline for `shutdown()` (`BAKER_OTEL_SHUTDOWN_TIMEOUT`, default 5 s).
    pub shutdown_timeout: Duration,
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// ```
    /// let cfg = baker_otel::config::Config::from_env().unwrap();
    /// assert!(!cfg.service_name.is_empty());
    /// ```
    pub fn from_env() -> Result<Self, crate::ConfigError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads the configuration from any source of variables (handy in tests).
    ///
    /// ```
    /// use baker_otel::config::{Config, EnvSource};
    /// let err = Config::from_source(&EnvSource::from_pairs([("OTEL_BSP_MAX_QUEUE_SIZE", "lots")]))
    ///     .unwrap_err();
    /// assert_eq!(err.name(), "OTEL_BSP_MAX_QUEUE_SIZE");
    /// ```
    pub fn from_source(src: &EnvSource) -> Result<Self, crate::ConfigError> {
        env::parse(src)
    }
}
