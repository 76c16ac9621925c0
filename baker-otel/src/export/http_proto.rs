//! Spans and log records over OTLP/HTTP with protobuf bodies: the request encoded straight from
//! `SpanData` / `SdkLogRecord` ([`proto`](super::proto)), gzip-compressed when configured, posted
//! by the same hyper client the metrics exporter uses ([`CountingClient`], which counts
//! partial-success rejections).
//!
//! Retries follow the OTLP/HTTP specification: 429, 502, 503 and 504 and failures without a
//! response are retried with backoff; a `Retry-After` header (seconds or an HTTP date) on 429/503
//! sets the delay, up to a bound. Every other status fails the export at once. The body is
//! encoded and compressed once and shared by the attempts.

use super::batch::BatchExporter;
use super::http::CountingClient;
use super::proto::{LogEncoder, TraceEncoder};
use super::LogItem;
use crate::config::{Compression, Signal, SignalConfig};
use crate::InitError;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use opentelemetry_http::HttpClient;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use std::time::{Duration, SystemTime};

const PROTOBUF: HeaderValue = HeaderValue::from_static("application/x-protobuf");
const GZIP: HeaderValue = HeaderValue::from_static("gzip");

/// Turns a batch into the protobuf bytes of its export request.
pub(crate) trait Encode: Send + Sync + 'static {
    type Item: Send + 'static;
    const SIGNAL: Signal;
    fn new(resource: &Resource) -> Self;
    fn encode_batch(&self, batch: Vec<Self::Item>) -> Vec<u8>;
}

impl Encode for TraceEncoder {
    type Item = Box<SpanData>;
    const SIGNAL: Signal = Signal::Traces;
    fn new(resource: &Resource) -> Self {
        TraceEncoder::new(resource)
    }
    fn encode_batch(&self, batch: Vec<Box<SpanData>>) -> Vec<u8> {
        let body = self.encode(&batch);
        super::recycle::give_back(batch);
        body
    }
}

impl Encode for LogEncoder {
    type Item = LogItem;
    const SIGNAL: Signal = Signal::Logs;
    fn new(resource: &Resource) -> Self {
        LogEncoder::new(resource)
    }
    fn encode_batch(&self, batch: Vec<LogItem>) -> Vec<u8> {
        self.encode(&batch)
    }
}

/// The OTLP/HTTP (protobuf) exporter of spans (`HttpProto<TraceEncoder>`) or log records
/// (`HttpProto<LogEncoder>`).
pub(crate) struct HttpProto<E> {
    client: CountingClient,
    uri: http::Uri,
    /// Content type, encoding and the configured headers (values marked sensitive).
    headers: HeaderMap,
    gzip: bool,
    encoder: E,
}

impl<E: Encode> HttpProto<E> {
    pub(crate) fn new(
        cfg: &SignalConfig,
        client: CountingClient,
        resource: &Resource,
    ) -> Result<Self, InitError> {
        let uri = cfg
            .endpoint
            .parse::<http::Uri>()
            .map_err(|e| InitError::Exporter {
                signal: E::SIGNAL.as_str(),
                message: format!("invalid OTLP endpoint: {e}"),
            })?;
        let mut headers = super::headers::header_map(cfg);
        headers.insert(CONTENT_TYPE, PROTOBUF);
        let gzip = cfg.compression == Some(Compression::Gzip);
        if gzip {
            headers.insert(CONTENT_ENCODING, GZIP);
        }
        Ok(Self {
            client,
            uri,
            headers,
            gzip,
            encoder: E::new(resource),
        })
    }

    fn request(&self, body: Bytes) -> http::Request<Bytes> {
        let mut r = http::Request::new(body);
        *r.method_mut() = http::Method::POST;
        *r.uri_mut() = self.uri.clone();
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// Whether an HTTP status may be retried, and the delay the server asked for.
pub(crate) fn retryable(status: http::StatusCode, headers: &HeaderMap) -> Option<Option<Duration>> {
    match status.as_u16() {
        429 | 503 => Some(
            headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after),
        ),
        502 | 504 => Some(None),
        _ => None,
    }
}

/// `Retry-After`: delay seconds or an HTTP date (a date in the past means now).
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn gzip(body: &[u8]) -> Result<Vec<u8>, OTelSdkError> {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    let mut e = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::default());
    e.write_all(body)
        .and_then(|()| e.finish())
        .map_err(|err| OTelSdkError::InternalFailure(format!("gzip: {err}")))
}

impl<E: Encode> BatchExporter<E::Item> for HttpProto<E> {
    fn export(&self, batch: Vec<E::Item>) -> BoxFuture<'_, OTelSdkResult> {
        let body = self.encoder.encode_batch(batch);
        Box::pin(async move {
            let body = Bytes::from(if self.gzip { gzip(&body)? } else { body });
            let mut attempt = 0;
            loop {
                let (code, throttle) =
                    match self.client.send_bytes(self.request(body.clone())).await {
                        Ok(resp) if resp.status().is_success() => return Ok(()),
                        Ok(resp) => {
                            let Some(throttle) = retryable(resp.status(), resp.headers()) else {
                                return Err(failure(Some(resp.status()), attempt));
                            };
                            (Some(resp.status()), throttle)
                        }
                        // No response (connection refused, reset, timeout): retryable.
                        Err(_) => (None, None),
                    };
                match super::retry::delay(attempt, throttle) {
                    Some(d) => {
                        attempt += 1;
                        tokio::time::sleep(d).await;
                    }
                    None => return Err(failure(code, attempt)),
                }
            }
        })
    }

    fn shutdown(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The error of a failed export: the status only (a response body may echo request data).
fn failure(code: Option<http::StatusCode>, attempt: u32) -> OTelSdkError {
    let what = code.map_or_else(|| "no response".to_owned(), |c| format!("status {c}"));
    OTelSdkError::InternalFailure(format!(
        "OTLP/HTTP export failed: {what} after {} attempt(s)",
        attempt + 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses_follow_the_otlp_http_spec() {
        let h = |v: Option<&str>| {
            let mut m = HeaderMap::new();
            if let Some(v) = v {
                m.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
            }
            m
        };
        let s = |c| http::StatusCode::from_u16(c).unwrap();
        assert_eq!(retryable(s(429), &h(None)), Some(None));
        assert_eq!(
            retryable(s(503), &h(Some("7"))),
            Some(Some(Duration::from_secs(7)))
        );
        assert_eq!(retryable(s(503), &h(Some("soon"))), Some(None));
        assert_eq!(retryable(s(502), &h(Some("7"))), Some(None));
        assert_eq!(retryable(s(504), &h(None)), Some(None));
        for c in [400, 401, 403, 404, 413, 500] {
            assert_eq!(retryable(s(c), &h(Some("1"))), None, "{c}");
        }
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(
            retryable(s(429), &h(Some(&past))),
            Some(Some(Duration::ZERO))
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let d = retryable(s(429), &h(Some(&later))).unwrap().unwrap();
        assert!(
            d > Duration::from_secs(110) && d <= Duration::from_secs(120),
            "{d:?}"
        );
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let body = b"otlp".repeat(100);
        let z = gzip(&body).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}
