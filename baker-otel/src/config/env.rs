//! Parsing of the `OTEL_*` environment variables into a [`Config`].

use super::exporters::parse_exporters;
use super::*;
use crate::ConfigError;
use std::collections::HashMap;

/// Where variables come from: the process environment or a fixed table (tests).
///
/// ```
/// use baker_otel::config::EnvSource;
/// let src = EnvSource::from_pairs([("OTEL_SERVICE_NAME", "worker")]);
/// assert_eq!(src.get("OTEL_SERVICE_NAME").as_deref(), Some("worker"));
/// ```
#[derive(Clone)]
pub struct EnvSource {
    table: Option<HashMap<String, String>>,
}

/// Lists the variable names of a fixed table, never their values (they may hold secrets).
impl std::fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.table {
            None => f.write_str("EnvSource::Process"),
            Some(t) => {
                let mut names: Vec<&str> = t.keys().map(String::as_str).collect();
                names.sort_unstable();
                f.debug_tuple("EnvSource::Table").field(&names).finish()
            }
        }
    }
}

impl EnvSource {
    /// The process environment.
    pub fn process() -> Self {
        Self { table: None }
    }

    /// A fixed table of variables; the process environment is ignored.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            table: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn is_process(&self) -> bool {
        self.table.is_none()
    }

    /// A variable's value; empty and non-UTF-8 values count as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        let v = match &self.table {
            Some(t) => t.get(name).cloned(),
            None => std::env::var(name).ok(),
        }?;
        let v = v.trim().to_owned();
        (!v.is_empty()).then_some(v)
    }
}

const GRPC_DEFAULT: &str = "http://localhost:4317";
const HTTP_DEFAULT: &str = "http://localhost:4318";

pub(super) fn parse(src: &EnvSource) -> Result<Config, ConfigError> {
    parse_for(src, Compiled::THIS_BUILD)
}

/// [`parse`] for a build with the given optional exporters (tests pass other sets).
fn parse_for(src: &EnvSource, compiled: Compiled) -> Result<Config, ConfigError> {
    let resource_attributes = match src.get("OTEL_RESOURCE_ATTRIBUTES") {
        Some(v) => parse_kv_list("OTEL_RESOURCE_ATTRIBUTES", &v)?,
        None => Vec::new(),
    };
    let service_name = src
        .get("OTEL_SERVICE_NAME")
        .or_else(|| {
            resource_attributes
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(default_service_name);

    let disabled = parse_bool(src, "OTEL_SDK_DISABLED", false)?;
    let propagators = match src.get("OTEL_PROPAGATORS") {
        None => vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
        Some(v) => parse_propagators(&v)?,
    };

    Ok(Config {
        service_name,
        resource_attributes,
        disabled,
        traces: parse_signal(src, Signal::Traces, compiled)?,
        metrics: parse_signal(src, Signal::Metrics, compiled)?,
        logs: parse_signal(src, Signal::Logs, compiled)?,
        sampler: parse_sampler(src)?,
        metric_export_interval: parse_millis(src, "OTEL_METRIC_EXPORT_INTERVAL", 60_000)?,
        metric_export_timeout: parse_millis(src, "OTEL_METRIC_EXPORT_TIMEOUT", 30_000)?,
        span_batch: parse_batch(src, "OTEL_BSP", BatchConfig::SPANS)?,
        log_batch: parse_batch(src, "OTEL_BLRP", BatchConfig::LOGS)?,
        propagators,
        log_filter: src.get("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
        json_logs: parse_bool(src, "BAKER_OTEL_JSON_LOGS", true)?,
        shutdown_timeout: parse_millis(src, "BAKER_OTEL_SHUTDOWN_TIMEOUT", 5_000)?,
        limits: parse_limits(src)?,
    })
}

fn default_service_name() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    format!("unknown_service:{exe}")
}

/// `key1=value1,key2=value2`, values percent-decoded (W3C baggage octets).
pub(crate) fn parse_kv_list(name: &str, v: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, val) = item.split_once('=').ok_or_else(|| {
            ConfigError::invalid(name, v, format!("entry {item:?} is not key=value"))
        })?;
        let k = k.trim();
        if k.is_empty() {
            return Err(ConfigError::invalid(name, v, "empty key"));
        }
        out.push((percent_decode(k), percent_decode(val.trim())));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_bool(src: &EnvSource, name: &str, default: bool) -> Result<bool, ConfigError> {
    match src.get(name) {
        None => Ok(default),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::invalid(name, &v, "expected true or false")),
        },
    }
}

fn parse_u64(src: &EnvSource, name: &str) -> Result<Option<u64>, ConfigError> {
    src.get(name)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ConfigError::invalid(name, &v, "expected a non-negative integer"))
        })
        .transpose()
}

fn parse_millis(src: &EnvSource, name: &str, default_ms: u64) -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(
        parse_u64(src, name)?.unwrap_or(default_ms),
    ))
}

fn parse_batch(src: &EnvSource, prefix: &str, d: BatchConfig) -> Result<BatchConfig, ConfigError> {
    let size = |suffix: &str, default: usize| -> Result<usize, ConfigError> {
        let name = format!("{prefix}_{suffix}");
        match parse_u64(src, &name)? {
            None => Ok(default),
            Some(0) => Err(ConfigError::invalid(&name, "0", "must be at least 1")),
            Some(n) => Ok(n.min(1 << 20) as usize),
        }
    };
    let max_export_batch_bytes = match parse_u64(src, "BAKER_OTEL_EXPORT_MAX_BYTES")? {
        None => d.max_export_batch_bytes,
        Some(n) if n < 1024 => {
            return Err(ConfigError::invalid(
                "BAKER_OTEL_EXPORT_MAX_BYTES",
                &n.to_string(),
                "must be at least 1024",
            ))
        }
        Some(n) => n.min(1 << 30) as usize,
    };
    let max_queue_size = size("MAX_QUEUE_SIZE", d.max_queue_size)?;
    let max_export_batch_size =
        size("MAX_EXPORT_BATCH_SIZE", d.max_export_batch_size)?.min(max_queue_size);
    Ok(BatchConfig {
        max_queue_size,
        max_export_batch_size,
        max_export_batch_bytes,
        scheduled_delay: parse_millis(
            src,
            &format!("{prefix}_SCHEDULE_DELAY"),
            d.scheduled_delay.as_millis() as u64,
        )?,
        export_timeout: parse_millis(
            src,
            &format!("{prefix}_EXPORT_TIMEOUT"),
            d.export_timeout.as_millis() as u64,
        )?,
    })
}

fn parse_limits(src: &EnvSource) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let first = |names: &[&str]| -> Result<Option<u64>, ConfigError> {
        for n in names {
            if let Some(v) = parse_u64(src, n)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    };
    let count =
        |v: Option<u64>, default: u32| v.map_or(default, |v| v.min(u64::from(u32::MAX)) as u32);
    Ok(Limits {
        attribute_value_length: first(&[
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ])?
        .map_or(d.attribute_value_length, |v| v.clamp(16, 1 << 30) as usize),
        attribute_count: count(
            first(&[
                "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
                "OTEL_ATTRIBUTE_COUNT_LIMIT",
            ])?,
            d.attribute_count,
        ),
        event_count: count(first(&["OTEL_SPAN_EVENT_COUNT_LIMIT"])?, d.event_count),
        link_count: count(first(&["OTEL_SPAN_LINK_COUNT_LIMIT"])?, d.link_count),
        log_attribute_value_length: first(&[
            "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ])?
        .map_or(d.log_attribute_value_length, |v| {
            v.clamp(16, 1 << 30) as usize
        }),
        log_attribute_count: count(
            first(&[
                "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
                "OTEL_ATTRIBUTE_COUNT_LIMIT",
            ])?,
            d.log_attribute_count,
        ),
    })
}

fn parse_sampler(src: &EnvSource) -> Result<SamplerConfig, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match src.get("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(v) => match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(ConfigError::invalid(
                    "OTEL_TRACES_SAMPLER_ARG",
                    &v,
                    "expected a ratio between 0 and 1",
                )),
            },
        }
    };
    let Some(v) = src.get("OTEL_TRACES_SAMPLER") else {
        return Ok(SamplerConfig::ParentBasedAlwaysOn);
    };
    Ok(match v.as_str() {
        "always_on" => SamplerConfig::AlwaysOn,
        "always_off" => SamplerConfig::AlwaysOff,
        "traceidratio" => SamplerConfig::TraceIdRatio(ratio()?),
        "parentbased_always_on" => SamplerConfig::ParentBasedAlwaysOn,
        "parentbased_always_off" => SamplerConfig::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => SamplerConfig::ParentBasedTraceIdRatio(ratio()?),
        _ => {
            return Err(ConfigError::invalid(
                "OTEL_TRACES_SAMPLER",
                &v,
                "expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio",
            ))
        }
    })
}

fn parse_propagators(v: &str) -> Result<Vec<PropagatorKind>, ConfigError> {
    let mut out = Vec::new();
    for p in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match p {
            "tracecontext" => out.push(PropagatorKind::TraceContext),
            "baggage" => out.push(PropagatorKind::Baggage),
            "none" => return Ok(Vec::new()),
            _ => {
                return Err(ConfigError::invalid(
                    "OTEL_PROPAGATORS",
                    v,
                    format!(
                        "unsupported propagator {p:?} (supported: tracecontext, baggage, none)"
                    ),
                ))
            }
        }
    }
    Ok(out)
}

pub(crate) fn parse_protocol(name: &str, v: &str) -> Result<Protocol, ConfigError> {
    match v {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Ok(Protocol::HttpJson),
        _ => Err(ConfigError::invalid(
            name,
            v,
            "expected grpc, http/protobuf or http/json",
        )),
    }
}

/// The URL an exporter should use, given an optional generic base endpoint.
pub(crate) fn resolve_endpoint(base: Option<&str>, signal: Signal, protocol: Protocol) -> String {
    match (protocol, base) {
        (Protocol::Grpc, Some(b)) => b.to_owned(),
        (Protocol::Grpc, None) => GRPC_DEFAULT.to_owned(),
        (_, b) => format!(
            "{}{}",
            b.unwrap_or(HTTP_DEFAULT).trim_end_matches('/'),
            signal.http_path()
        ),
    }
}

pub(crate) fn validate_endpoint(name: &str, v: &str) -> Result<(), ConfigError> {
    match v.parse::<http::Uri>() {
        Ok(uri) if uri.scheme().is_some() && uri.host().is_some() => Ok(()),
        _ => Err(ConfigError::invalid(
            name,
            &super::redact::redact_userinfo(v),
            "expected an absolute URL such as http://collector:4317",
        )),
    }
}

fn parse_signal(
    src: &EnvSource,
    signal: Signal,
    compiled: Compiled,
) -> Result<SignalConfig, ConfigError> {
    let up = signal.env_upper();
    let var = |suffix: &str| -> (String, Option<String>) {
        let specific = format!("OTEL_EXPORTER_OTLP_{up}_{suffix}");
        if let Some(v) = src.get(&specific) {
            return (specific, Some(v));
        }
        let generic = format!("OTEL_EXPORTER_OTLP_{suffix}");
        let v = src.get(&generic);
        (generic, v)
    };

    let exporters_name = format!("OTEL_{up}_EXPORTER");
    let exporters_value = src.get(&exporters_name);
    let exporters = parse_exporters(
        &exporters_name,
        exporters_value.as_deref(),
        signal,
        compiled,
    )?;
    let (protocol_var, protocol) = match var("PROTOCOL") {
        (name, Some(v)) => {
            let p = parse_protocol(&name, &v)?;
            (Some((name, v)), p)
        }
        (_, None) => (None, compiled.default_protocol()),
    };
    // An exporter this build leaves out is an error naming the variable that chose it: the
    // protocol variable when another OTLP transport is compiled in, else the exporter list.
    for &kind in &exporters {
        if let Some(feature) = compiled.missing(kind, protocol) {
            let (name, value) = match protocol_var {
                Some(pv) if kind == ExporterKind::Otlp && compiled.any_otlp() => pv,
                _ => (exporters_name, exporters_value.unwrap_or_default()),
            };
            return Err(ConfigError::FeatureDisabled {
                name,
                value: crate::util::truncate_str(&value, 200).to_owned(),
                feature,
            });
        }
    }
    let specific_ep_name = format!("OTEL_EXPORTER_OTLP_{up}_ENDPOINT");
    let insecure = match var("INSECURE") {
        (name, Some(_)) => parse_bool(src, &name, false)?,
        _ => false,
    };
    let endpoint = if let Some(v) = src.get(&specific_ep_name) {
        let v = with_grpc_scheme(v, protocol, insecure);
        validate_endpoint(&specific_ep_name, &v)?;
        v
    } else if let Some(v) = src.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        let v = with_grpc_scheme(v, protocol, insecure);
        validate_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", &v)?;
        resolve_endpoint(Some(&v), signal, protocol)
    } else {
        resolve_endpoint(None, signal, protocol)
    };
    let headers = match var("HEADERS") {
        (name, Some(v)) => parse_headers(&name, &v)?,
        _ => Vec::new(),
    };
    let file = |suffix: &str| -> (String, Option<std::path::PathBuf>) {
        let (name, v) = var(suffix);
        (name, v.map(std::path::PathBuf::from))
    };
    let (ca_name, certificate) = file("CERTIFICATE");
    let (cert_name, client_certificate) = file("CLIENT_CERTIFICATE");
    let (key_name, client_key) = file("CLIENT_KEY");
    let tls = TlsConfig {
        certificate,
        client_certificate,
        client_key,
        insecure,
        sources: [ca_name, cert_name, key_name],
    };
    check_tls(&tls)?;
    let timeout = match var("TIMEOUT") {
        (name, Some(v)) => Duration::from_millis(
            v.parse::<u64>()
                .map_err(|_| ConfigError::invalid(&name, &v, "expected milliseconds"))?,
        ),
        _ => Duration::from_secs(10),
    };
    let compression = match var("COMPRESSION") {
        (_, None) => None,
        (name, Some(v)) => match v.as_str() {
            "gzip" => Some(Compression::Gzip),
            "none" => None,
            _ => return Err(ConfigError::invalid(&name, &v, "expected gzip or none")),
        },
    };
    Ok(SignalConfig {
        exporters,
        protocol,
        endpoint,
        headers,
        timeout,
        compression,
        tls,
    })
}

/// A gRPC endpoint written without a scheme (`collector:4317`) gets `https://`, or `http://` when
/// `OTEL_EXPORTER_OTLP_INSECURE=true` (the only case where the spec lets that variable matter).
pub(crate) fn with_grpc_scheme(v: String, protocol: Protocol, insecure: bool) -> String {
    if protocol != Protocol::Grpc || v.contains("://") {
        return v;
    }
    match v.parse::<http::Uri>() {
        Ok(uri) if uri.scheme().is_none() && uri.host().is_some() => {
            format!("{}://{v}", if insecure { "http" } else { "https" })
        }
        _ => v,
    }
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: like [`parse_kv_list`], but a malformed entry is reported
/// without its content (header values are credentials), and names and values must be valid
/// HTTP header names and values.
pub(crate) fn parse_headers(name: &str, v: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (i, item) in v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let n = i + 1;
        let Some((k, val)) = item.split_once('=') else {
            return Err(ConfigError::redacted(
                name,
                format!("entry {n} is not key=value"),
            ));
        };
        let (k, val) = (percent_decode(k.trim()), percent_decode(val.trim()));
        check_header(name, n, &k, &val)?;
        out.push((k, val));
    }
    Ok(out)
}

/// Checks one header; errors name the entry by position, never by content.
pub(crate) fn check_header(name: &str, n: usize, k: &str, v: &str) -> Result<(), ConfigError> {
    if k.is_empty() {
        return Err(ConfigError::redacted(
            name,
            format!("entry {n} has an empty key"),
        ));
    }
    if http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).is_err() {
        return Err(ConfigError::redacted(
            name,
            format!("entry {n} is not a valid header name"),
        ));
    }
    if http::HeaderValue::from_str(v).is_err() {
        return Err(ConfigError::redacted(
            name,
            format!("entry {n} has a value that is not a valid header value"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        parse(&EnvSource::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.traces.endpoint, "http://localhost:4317");
        assert_eq!(c.traces.protocol, Protocol::Grpc);
        assert_eq!(c.traces.exporters, vec![ExporterKind::Otlp]);
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(
            c.propagators,
            vec![PropagatorKind::TraceContext, PropagatorKind::Baggage]
        );
        assert_eq!(c.metric_export_interval, Duration::from_secs(60));
        assert_eq!(c.span_batch, BatchConfig::SPANS);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
        assert!(c.service_name.starts_with("unknown_service:"));
        assert!(!c.disabled);
    }

    #[test]
    fn env_table() {
        let c = cfg(&[
            ("OTEL_SERVICE_NAME", "brain"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=prod, team=agents%20core",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://logs:9999/custom",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,x-tenant=a"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
            ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
            ("OTEL_PROPAGATORS", "tracecontext"),
            ("RUST_LOG", "debug"),
        ])
        .unwrap();
        assert_eq!(c.service_name, "brain");
        assert_eq!(
            c.resource_attributes[1],
            ("team".into(), "agents core".into())
        );
        assert_eq!(c.traces.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(c.metrics.endpoint, "http://collector:4318/v1/metrics");
        assert_eq!(c.logs.endpoint, "http://logs:9999/custom");
        assert_eq!(
            c.traces.headers,
            vec![
                ("api-key".into(), "secret".into()),
                ("x-tenant".into(), "a".into())
            ]
        );
        assert_eq!(c.metrics.timeout, Duration::from_millis(2500));
        assert_eq!(c.traces.timeout, Duration::from_secs(10));
        assert_eq!(c.traces.compression, Some(Compression::Gzip));
        assert_eq!(c.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.1));
        assert_eq!(
            c.metrics.exporters,
            vec![ExporterKind::Otlp, ExporterKind::Prometheus]
        );
        assert!(c.logs.exporters.is_empty());
        assert_eq!(c.traces.exporters, vec![ExporterKind::Console]);
        assert_eq!(c.metric_export_interval, Duration::from_secs(1));
        assert_eq!(c.span_batch.max_queue_size, 100);
        assert_eq!(
            c.span_batch.max_export_batch_size, 100,
            "batch size is capped by the queue size"
        );
        assert_eq!(c.propagators, vec![PropagatorKind::TraceContext]);
        assert_eq!(c.log_filter, "debug");
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn limits_from_env() {
        let c = cfg(&[
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "5"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "99999999999"),
        ])
        .unwrap();
        assert_eq!(
            c.limits.attribute_value_length, 64,
            "span-specific beats generic"
        );
        assert_eq!(c.limits.attribute_count, 10);
        assert_eq!(c.limits.event_count, 5);
        assert_eq!(c.limits.link_count, u32::MAX);
        assert_eq!(
            c.limits.log_attribute_value_length, 100,
            "generic applies to logs"
        );
        assert_eq!(c.limits.log_attribute_count, 10);
        let c = cfg(&[
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
            ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "50"),
            ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "3"),
        ])
        .unwrap();
        assert_eq!(c.limits.log_attribute_value_length, 50);
        assert_eq!(c.limits.log_attribute_count, 3);
        assert_eq!(c.limits.attribute_value_length, 100);
        assert_eq!(
            cfg(&[("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "x")])
                .unwrap_err()
                .name(),
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"
        );
    }

    #[test]
    fn service_name_falls_back_to_resource_attributes() {
        let c = cfg(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=worker")]).unwrap();
        assert_eq!(c.service_name, "worker");
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            ("OTEL_SDK_DISABLED", "maybe"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/relative"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "bad name=v"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "perhaps"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem"),
            ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "/no/such/key.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/no/such/cert.pem"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_LOGS_EXPORTER", "prometheus"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
            ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_RESOURCE_ATTRIBUTES", "=x"),
            ("BAKER_OTEL_SHUTDOWN_TIMEOUT", "1.5"),
            ("BAKER_OTEL_EXPORT_MAX_BYTES", "100"),
        ];
        for (name, value) in cases {
            let err = cfg(&[(name, value)]).expect_err(name);
            assert_eq!(err.name(), *name, "{err}");
            assert!(err.to_string().contains(name));
        }
        let err = cfg(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .unwrap_err();
        assert_eq!(err.name(), "OTEL_TRACES_SAMPLER_ARG");
    }

    #[test]
    fn huge_and_odd_values_do_not_panic() {
        let huge = "x".repeat(1 << 20);
        let err = cfg(&[("OTEL_TRACES_SAMPLER", huge.as_str())]).unwrap_err();
        assert!(err.to_string().len() < 1000);
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("a%41"), "aA");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    const ALL: Compiled = Compiled {
        otlp_grpc: true,
        otlp_http: true,
        prometheus: true,
    };

    fn cfg_for(compiled: Compiled, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        parse_for(&EnvSource::from_pairs(pairs.iter().copied()), compiled)
    }

    fn feature_error(err: ConfigError) -> (String, String, &'static str) {
        match err {
            ConfigError::FeatureDisabled {
                name,
                value,
                feature,
            } => (name, value, feature),
            other => panic!("expected FeatureDisabled, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_compiled_exporters() {
        let none = Compiled {
            otlp_grpc: false,
            otlp_http: false,
            prometheus: false,
        };
        let c = cfg_for(none, &[]).unwrap();
        assert!(c.traces.exporters.is_empty() && c.logs.exporters.is_empty());
        assert!(c.metrics.exporters.is_empty());
        let c = cfg_for(none, &[("OTEL_TRACES_EXPORTER", "console")]).unwrap();
        assert_eq!(c.traces.exporters, vec![ExporterKind::Console]);

        let http_only = Compiled {
            otlp_grpc: false,
            ..ALL
        };
        let c = cfg_for(http_only, &[]).unwrap();
        assert_eq!(c.traces.exporters, vec![ExporterKind::Otlp]);
        assert_eq!(c.traces.protocol, Protocol::HttpProtobuf);
        assert_eq!(c.traces.endpoint, "http://localhost:4318/v1/traces");

        let c = cfg_for(ALL, &[]).unwrap();
        assert_eq!(c.traces.protocol, Protocol::Grpc);
        assert_eq!(
            Compiled::THIS_BUILD.default_exporters().is_empty(),
            !Compiled::THIS_BUILD.any_otlp()
        );
    }

    #[test]
    fn an_exporter_left_out_of_the_build_names_the_variable_and_the_feature() {
        let none = Compiled {
            otlp_grpc: false,
            otlp_http: false,
            prometheus: false,
        };
        let err = cfg_for(none, &[("OTEL_LOGS_EXPORTER", "console,otlp")]).unwrap_err();
        assert_eq!(
            feature_error(err),
            (
                "OTEL_LOGS_EXPORTER".into(),
                "console,otlp".into(),
                "otlp-grpc"
            )
        );
        let err = cfg_for(
            none,
            &[
                ("OTEL_TRACES_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            feature_error(err),
            ("OTEL_TRACES_EXPORTER".into(), "otlp".into(), "otlp-http")
        );

        let no_prometheus = Compiled {
            prometheus: false,
            ..ALL
        };
        let err = cfg_for(
            no_prometheus,
            &[("OTEL_METRICS_EXPORTER", "otlp,prometheus")],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            feature_error(err),
            (
                "OTEL_METRICS_EXPORTER".into(),
                "otlp,prometheus".into(),
                "prometheus"
            )
        );
        assert!(
            msg.contains("OTEL_METRICS_EXPORTER") && msg.contains("\"prometheus\""),
            "{msg}"
        );

        let grpc_only = Compiled {
            otlp_http: false,
            ..ALL
        };
        let err = cfg_for(
            grpc_only,
            &[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")],
        )
        .unwrap_err();
        assert_eq!(
            feature_error(err),
            (
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL".into(),
                "http/protobuf".into(),
                "otlp-http"
            )
        );
        // A protocol for a signal that does not export over OTLP is not an error.
        cfg_for(
            grpc_only,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_TRACES_EXPORTER", "console"),
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
            ],
        )
        .unwrap();
    }

    #[test]
    fn builder_settings_left_out_of_the_build_name_the_builder_method() {
        let http_only = Compiled {
            otlp_grpc: false,
            ..ALL
        };
        let err = http_only
            .check_builder(Signal::Traces, ExporterKind::Otlp, Protocol::Grpc)
            .unwrap_err();
        assert_eq!(
            feature_error(err),
            (
                "TelemetryBuilder::otlp_protocol".into(),
                "grpc".into(),
                "otlp-grpc"
            )
        );
        let none = Compiled {
            otlp_grpc: false,
            otlp_http: false,
            prometheus: false,
        };
        let err = none
            .check_builder(Signal::Metrics, ExporterKind::Prometheus, Protocol::Grpc)
            .unwrap_err();
        assert_eq!(
            feature_error(err),
            (
                "TelemetryBuilder::exporters(Signal::Metrics)".into(),
                "prometheus".into(),
                "prometheus"
            )
        );
        ALL.check_builder(Signal::Logs, ExporterKind::Otlp, Protocol::HttpJson)
            .unwrap();
        none.check_builder(Signal::Logs, ExporterKind::Console, Protocol::Grpc)
            .unwrap();
    }
}
