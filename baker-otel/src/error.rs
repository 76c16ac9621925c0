//! Error types returned by initialisation and configuration.

/// What `Debug`, `Display` and errors print in place of a secret (a header value, an API key).
///
/// ```
/// use baker_otel::config::{Config, EnvSource, REDACTED};
/// let cfg = Config::from_source(&EnvSource::from_pairs([
///     ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr3t"),
/// ])).unwrap();
/// let printed = format!("{cfg:?}");
/// assert!(printed.contains(REDACTED) && !printed.contains("s3cr3t"));
/// ```
pub const REDACTED: &str = "[REDACTED]";

/// A configuration value could not be used.
///
/// Every variant names the setting (an environment variable such as
/// `OTEL_TRACES_SAMPLER`, or a builder method) so that the operator knows what to fix.
///
/// ```
/// use baker_otel::ConfigError;
/// let err = ConfigError::invalid("OTEL_TRACES_SAMPLER", "sometimes", "unknown sampler");
/// assert!(err.to_string().contains("OTEL_TRACES_SAMPLER"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The value of a setting could not be parsed or is not supported.
    #[error("invalid value {value:?} for {name}: {reason}")]
    Invalid {
        /// Environment variable or builder setting.
        name: String,
        /// The offending value (truncated to 200 bytes); `[REDACTED]` for settings that carry
        /// secrets such as `OTEL_EXPORTER_OTLP_HEADERS`.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The setting selects an exporter that this build of baker-otel leaves out: the named
    /// cargo feature of `baker-otel` is off (see the crate's feature list).
    ///
    /// ```
    /// use baker_otel::ConfigError;
    /// let err = ConfigError::FeatureDisabled {
    ///     name: "OTEL_METRICS_EXPORTER".into(),
    ///     value: "prometheus".into(),
    ///     feature: "prometheus",
    /// };
    /// assert_eq!(err.name(), "OTEL_METRICS_EXPORTER");
    /// assert!(err.to_string().contains("feature \"prometheus\""));
    /// ```
    #[error("{name}={value:?} needs the cargo feature {feature:?} of baker-otel, which this build does not enable")]
    FeatureDisabled {
        /// Environment variable or builder setting.
        name: String,
        /// The value that selected the exporter.
        value: String,
        /// The missing cargo feature (`otlp-grpc`, `otlp-http` or `prometheus`).
        feature: &'static str,
    },
    /// A file named by a setting (a CA certificate, a client certificate or key) is missing,
    /// unreadable, or holds no usable PEM.
    #[error("{name}: cannot use {path:?}: {reason}")]
    File {
        /// Environment variable or builder setting.
        name: String,
        /// The path it names.
        path: String,
        /// What is wrong with the file (never its content).
        reason: String,
    },
}

impl ConfigError {
    /// Builds an [`ConfigError::Invalid`], truncating a huge value.
    pub fn invalid(name: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            name: name.to_owned(),
            value: crate::util::truncate_str(value, 200).to_owned(),
            reason: {
                let reason: String = reason.into();
                crate::util::truncate_str(&reason, 300).to_owned()
            },
        }
    }

    /// Builds an [`ConfigError::Invalid`] for a setting that holds secrets (headers, keys): the
    /// value is never kept, only [`REDACTED`] in its place.
    ///
    /// ```
    /// # use baker_otel::ConfigError;
    /// let err = ConfigError::redacted("OTEL_EXPORTER_OTLP_HEADERS", "entry 1 is not key=value");
    /// assert_eq!(err.name(), "OTEL_EXPORTER_OTLP_HEADERS");
    /// assert!(err.to_string().contains("[REDACTED]"));
    /// ```
    pub fn redacted(name: &str, reason: impl Into<String>) -> Self {
        let reason: String = reason.into();
        ConfigError::Invalid {
            name: name.to_owned(),
            value: REDACTED.to_owned(),
            reason: crate::util::truncate_str(&reason, 300).to_owned(),
        }
    }

    /// A file named by a setting (a certificate, a key) could not be read or parsed.
    ///
    /// ```
    /// # use baker_otel::ConfigError;
    /// let err = ConfigError::file("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nope.pem", "not found");
    /// assert_eq!(err.name(), "OTEL_EXPORTER_OTLP_CERTIFICATE");
    /// assert!(err.to_string().contains("/nope.pem"));
    /// ```
    pub fn file(name: &str, path: &str, reason: impl Into<String>) -> Self {
        let reason: String = reason.into();
        ConfigError::File {
            name: name.to_owned(),
            path: crate::util::truncate_str(path, 300).to_owned(),
            reason: crate::util::truncate_str(&reason, 300).to_owned(),
        }
    }

    /// The name of the setting this error is about.
    ///
    /// ```
    /// # use baker_otel::ConfigError;
    /// assert_eq!(ConfigError::invalid("OTEL_BSP_MAX_QUEUE_SIZE", "x", "not a number").name(), "OTEL_BSP_MAX_QUEUE_SIZE");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            ConfigError::Invalid { name, .. }
            | ConfigError::FeatureDisabled { name, .. }
            | ConfigError::File { name, .. } => name,
        }
    }
}

/// Initialisation failed.
///
/// ```
/// # use baker_otel::InitError;
/// let err = InitError::AlreadyInitialized;
/// assert_eq!(err.to_string(), "baker-otel is already initialised in this process");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A setting was invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `init` was called while a previous [`Telemetry`](crate::Telemetry) is still installed
    /// (or another global `tracing` subscriber was set).
    #[error("baker-otel is already initialised in this process")]
    AlreadyInitialized,
    /// An exporter could not be built (bad endpoint, TLS setup, …).
    #[error("failed to build the {signal} exporter: {message}")]
    Exporter {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The underlying error.
        message: String,
    },
    /// The background export runtime could not be started.
    #[error("failed to start the export runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Shutting down did not complete cleanly. Telemetry is still torn down as far as possible.
///
/// ```
/// # use baker_otel::ShutdownError;
/// let err = ShutdownError::Timeout(std::time::Duration::from_secs(5));
/// assert!(err.to_string().contains("5s"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The deadline passed before every signal was flushed; remaining data was dropped.
    #[error("telemetry shutdown did not finish within {0:?}; unflushed data was dropped")]
    Timeout(std::time::Duration),
    /// One of the providers reported an error while shutting down.
    #[error("telemetry shutdown failed: {0}")]
    Provider(String),
}
