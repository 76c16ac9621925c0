//! The TLS files of a signal: read, checked as PEM of the right kind, and handed to the transports
//! as [`Loaded`] material. Configuration validates with the same loader that export uses, so a
//! setting that passes validation is exactly what the exporter will read.

use super::TlsConfig;
use crate::ConfigError;
use std::path::Path;

/// The PEM files of a [`TlsConfig`], read and checked.
#[derive(Default)]
pub(crate) struct Loaded {
    /// Extra trusted CA certificates (PEM).
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// Client certificate chain and private key (PEM), for mTLS.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Clone, Copy)]
enum Kind {
    Certificates,
    PrivateKey,
}

fn read(source: &str, path: &Path, kind: Kind) -> Result<Vec<u8>, ConfigError> {
    let shown = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::file(source, &shown, e.to_string()))?;
    check_pem(&bytes, kind).map_err(|reason| ConfigError::file(source, &shown, reason))?;
    Ok(bytes)
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn check_pem(bytes: &[u8], kind: Kind) -> Result<(), String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    match kind {
        Kind::Certificates => {
            let mut n = 0;
            for c in CertificateDer::pem_slice_iter(bytes) {
                c.map_err(|e| format!("bad PEM certificate: {e}"))?;
                n += 1;
            }
            if n == 0 {
                return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into());
            }
            Ok(())
        }
        // The key's bytes never appear in the error.
        Kind::PrivateKey => PrivateKeyDer::from_pem_slice(bytes)
            .map(|_| ())
            .map_err(|_| "no usable PEM private key (PKCS#8, PKCS#1 or SEC1) found".into()),
    }
}

/// Without an OTLP transport the files are never used; only their shape is checked.
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
fn check_pem(bytes: &[u8], kind: Kind) -> Result<(), String> {
    let marker: &[u8] = match kind {
        Kind::Certificates => b"-----BEGIN CERTIFICATE-----",
        Kind::PrivateKey => b"PRIVATE KEY-----",
    };
    if bytes.windows(marker.len()).any(|w| w == marker) {
        Ok(())
    } else {
        Err("no PEM block of the expected kind found".into())
    }
}

/// Reads the files `tls` names; errors name the setting (variable or builder method).
pub(crate) fn load(tls: &TlsConfig) -> Result<Loaded, ConfigError> {
    let ca_pem = match &tls.certificate {
        Some(p) => Some(read(tls.source(0), p, Kind::Certificates)?),
        None => None,
    };
    let identity = match (&tls.client_certificate, &tls.client_key) {
        (Some(c), Some(k)) => Some((
            read(tls.source(1), c, Kind::Certificates)?,
            read(tls.source(2), k, Kind::PrivateKey)?,
        )),
        _ => None,
    };
    Ok(Loaded { ca_pem, identity })
}

/// Checks the TLS files: each one that is set must be readable PEM of the right kind, and a
/// client certificate needs its key (and the other way round).
pub(crate) fn check_tls(tls: &TlsConfig) -> Result<(), ConfigError> {
    match (&tls.client_certificate, &tls.client_key) {
        (Some(_), None) => {
            return Err(ConfigError::invalid(
                tls.source(1),
                "",
                format!(
                    "a client certificate needs a client key ({})",
                    key_var(tls.source(1))
                ),
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::invalid(
                tls.source(2),
                "",
                format!(
                    "a client key needs a client certificate ({})",
                    tls.source(2).replace("CLIENT_KEY", "CLIENT_CERTIFICATE")
                ),
            ))
        }
        _ => {}
    }
    load(tls).map(|_| ())
}

fn key_var(cert_var: &str) -> String {
    cert_var.replace("CLIENT_CERTIFICATE", "CLIENT_KEY")
}
