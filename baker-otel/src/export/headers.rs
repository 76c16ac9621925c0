//! The configured OTLP headers as transport metadata, shared by the exporter factory
//! ([`build`](super::build)) and the transports that set their own headers.

use crate::config::SignalConfig;

#[cfg(feature = "otlp-grpc")]
pub(crate) fn tonic_metadata(cfg: &SignalConfig) -> tonic_md::MetadataMap {
    tonic_md::MetadataMap::from_headers(header_map(cfg))
}

/// The configured headers as an HTTP header map (lower-cased names, values marked sensitive).
pub(crate) fn header_map(cfg: &SignalConfig) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (k, v) in &cfg.headers {
        // Names and values from the environment were checked when it was read; invalid ones
        // set through `configure` are skipped rather than failing start-up. Values are marked
        // sensitive, so that their `Debug` output is `Sensitive`, never the secret.
        if let (Ok(k), Ok(mut v)) = (
            http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            v.set_sensitive(true);
            headers.insert(k, v);
        }
    }
    headers
}

#[cfg(feature = "otlp-grpc")]
mod tonic_md {
    pub(crate) use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
}
