//! TLS for OTLP export: rustls with the ring provider, the system roots and the webpki (Mozilla)
//! roots, plus the CA and client identity named by `OTEL_EXPORTER_OTLP_*CERTIFICATE` /
//! `*CLIENT_KEY` (or the builder).

use crate::config::tls::Loaded;

/// Whether the system trust store has any certificate (a slim container may have none; then only
/// the webpki roots and the configured CA are trusted rather than failing).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn native_roots() -> &'static [rustls_pki_types::CertificateDer<'static>] {
    static ROOTS: std::sync::OnceLock<Vec<rustls_pki_types::CertificateDer<'static>>> =
        std::sync::OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The tonic TLS settings for an `https://` gRPC endpoint.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn tonic_config(
    l: &Loaded,
) -> opentelemetry_otlp::tonic_types::transport::ClientTlsConfig {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
    let mut c = ClientTlsConfig::new().with_webpki_roots();
    if !native_roots().is_empty() {
        c = c.with_native_roots();
    }
    if let Some(ca) = &l.ca_pem {
        c = c.ca_certificate(Certificate::from_pem(ca));
    }
    if let Some((cert, key)) = &l.identity {
        c = c.identity(Identity::from_pem(cert, key));
    }
    c
}

/// The hyper client for OTLP/HTTP: rustls with an explicit ring provider (never the process-wide
/// default, so nothing is installed and nothing depends on what the application installed),
/// system + webpki roots (read only for an `https://` endpoint), the configured CA and client
/// identity; `http://` stays plain.
#[cfg(feature = "otlp-http")]
pub(crate) fn http_client(
    l: &Loaded,
    https: bool,
    timeout: std::time::Duration,
) -> Result<super::http::HyperHttps, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    // A plain `http://` endpoint never verifies a server: reading the system's certificate store
    // (a few milliseconds of start-up) is left to `https://` endpoints.
    if https {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        roots.add_parsable_certificates(native_roots().iter().cloned());
    }
    if let Some(ca) = &l.ca_pem {
        for c in CertificateDer::pem_slice_iter(ca) {
            let c = c.map_err(|e| format!("CA certificate: {e}"))?;
            roots.add(c).map_err(|e| format!("CA certificate: {e}"))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match &l.identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("client certificate: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|_| "client key: no usable PEM private key".to_owned())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate and key: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(opentelemetry_http::hyper::HyperClient::new(
        connector, timeout, None,
    ))
}
