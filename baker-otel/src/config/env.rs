//! Parsing of the `OTEL_*` environment variables into a [`Config`].

use super::exporters::parse_exporters;
use super::source::EnvSource;
use super::values::*;
use super::*;
use crate::ConfigError;

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

#[cfg(test)]
mod tests;
