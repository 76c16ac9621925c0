//! Values of single `OTEL_*` variables: numbers, durations, booleans, key/value lists, headers,
//! batch and limit settings, the sampler, propagators and protocol.

use super::source::EnvSource;
use super::*;
use crate::ConfigError;

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

pub(super) fn percent_decode(s: &str) -> String {
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

pub(super) fn parse_bool(src: &EnvSource, name: &str, default: bool) -> Result<bool, ConfigError> {
    match src.get(name) {
        None => Ok(default),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::invalid(name, &v, "expected true or false")),
        },
    }
}

pub(super) fn parse_u64(src: &EnvSource, name: &str) -> Result<Option<u64>, ConfigError> {
    src.get(name)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ConfigError::invalid(name, &v, "expected a non-negative integer"))
        })
        .transpose()
}

pub(super) fn parse_millis(
    src: &EnvSource,
    name: &str,
    default_ms: u64,
) -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(
        parse_u64(src, name)?.unwrap_or(default_ms),
    ))
}

pub(super) fn parse_batch(
    src: &EnvSource,
    prefix: &str,
    d: BatchConfig,
) -> Result<BatchConfig, ConfigError> {
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

pub(super) fn parse_limits(src: &EnvSource) -> Result<Limits, ConfigError> {
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

pub(super) fn parse_sampler(src: &EnvSource) -> Result<SamplerConfig, ConfigError> {
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

pub(super) fn parse_propagators(v: &str) -> Result<Vec<PropagatorKind>, ConfigError> {
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
