//! The HTTP client under the OTLP/HTTP exporters: hyper with rustls (ring) plus the reading of OTLP
//! partial-success responses, whose rejected items are counted in
//! `baker_otel.exporter.dropped{reason="rejected"}` (the upstream exporter only logs them) — at
//! most the items of the request ([`RequestItems`]), whatever the collector claims.

use super::batch::BatchExporter;
use super::{DropReason, Drops};
use crate::util::RateLimiter;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_sdk::error::OTelSdkResult;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// hyper's client over rustls (explicit ring config; plain TCP for `http://`).
pub(crate) type HyperHttps = opentelemetry_http::hyper::HyperClient<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
>;

/// Wraps the HTTP client; reads the body of each successful export response.
#[derive(Debug)]
pub(crate) struct CountingClient {
    inner: HyperHttps,
    drops: Arc<Drops>,
    signal: crate::config::Signal,
    json: bool,
    warn: Arc<RateLimiter>,
    /// Items in the request being sent, set by [`RequestItems`]: the most a partial success
    /// can reject (0, nothing counted, where no exporter sets it: metrics).
    items: Arc<AtomicU64>,
}

impl CountingClient {
    /// `items` is shared with the [`RequestItems`] around the exporter this client serves.
    pub(crate) fn new(
        inner: HyperHttps,
        drops: Arc<Drops>,
        signal: crate::config::Signal,
        json: bool,
        items: Arc<AtomicU64>,
    ) -> Self {
        Self {
            inner,
            drops,
            signal,
            json,
            warn: Arc::new(RateLimiter::new(Duration::from_secs(60))),
            items,
        }
    }
}

/// Tells the [`CountingClient`] under an exporter how many items the request it sends next
/// holds, so that a partial success counts at most those. One pipeline exports one batch at a
/// time (the batch worker awaits each export), so one shared count is enough.
pub(crate) struct RequestItems<X> {
    inner: X,
    items: Arc<AtomicU64>,
}

impl<X> RequestItems<X> {
    pub(crate) fn new(inner: X, items: Arc<AtomicU64>) -> Self {
        Self { inner, items }
    }
}

impl<T, X: BatchExporter<T>> BatchExporter<T> for RequestItems<X> {
    fn export(&self, batch: Vec<T>) -> BoxFuture<'_, OTelSdkResult> {
        let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        self.items.store(n, Ordering::Release);
        self.inner.export(batch)
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown(timeout)
    }
}

/// `(rejected, error_message)` of an OTLP export response body, protobuf or JSON.
pub(crate) fn rejected(signal: crate::config::Signal, json: bool, body: &[u8]) -> (u64, String) {
    use crate::config::Signal;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message;
    if body.is_empty() {
        return (0, String::new());
    }
    if json {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return (0, String::new());
        };
        let p = &v["partialSuccess"];
        let key = match signal {
            Signal::Traces => "rejectedSpans",
            Signal::Logs => "rejectedLogRecords",
            Signal::Metrics => "rejectedDataPoints",
        };
        // proto3 JSON writes int64 as a string; accept a number too.
        let n = match &p[key] {
            serde_json::Value::String(s) => s.parse().unwrap_or(0),
            v => v.as_u64().unwrap_or(0),
        };
        let msg = p["errorMessage"].as_str().unwrap_or_default().to_owned();
        return (n, msg);
    }
    let (n, msg) = match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Logs => ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_log_records, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_data_points, p.error_message)),
    }
    .unwrap_or_default();
    (u64::try_from(n).unwrap_or(0), msg)
}

impl HttpClient for CountingClient {
    fn send_bytes<'a, 'b>(
        &'a self,
        request: http::Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, HttpError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            let response = self.inner.send_bytes(request).await?;
            if response.status().is_success() {
                let (claimed, msg) = rejected(self.signal, self.json, response.body());
                let n = claimed.min(self.items.load(Ordering::Acquire));
                if n > 0 && self.signal != crate::config::Signal::Metrics {
                    let total = self.drops.add(DropReason::Rejected, n);
                    if self.warn.allow() {
                        tracing::warn!(
                            target: crate::INTERNAL_TARGET,
                            signal = self.signal.as_str(),
                            rejected = n,
                            dropped_total = total,
                            collector_message = %crate::util::truncate_str(&msg, 300),
                            "the collector rejected {n} {} of an export (OTLP partial success); counted in baker_otel.exporter.dropped{{reason=\"rejected\"}}, this warning repeats at most once a minute",
                            self.signal.as_str()
                        );
                    }
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Signal;
    use prost::Message;

    #[test]
    fn partial_success_bodies_are_read() {
        use opentelemetry_proto::tonic::collector::trace::v1::{
            ExportTracePartialSuccess, ExportTraceServiceResponse,
        };
        let body = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".into(),
            }),
        }
        .encode_to_vec();
        assert_eq!(
            rejected(Signal::Traces, false, &body),
            (3, "too old".into())
        );
        assert_eq!(rejected(Signal::Traces, false, &[]).0, 0);
        assert_eq!(rejected(Signal::Traces, false, b"\xff\xff garbage").0, 0);
        let json = br#"{"partialSuccess":{"rejectedLogRecords":"5","errorMessage":"x"}}"#;
        assert_eq!(rejected(Signal::Logs, true, json), (5, "x".into()));
        let json = br#"{"partialSuccess":{"rejectedSpans":2}}"#;
        assert_eq!(rejected(Signal::Traces, true, json).0, 2);
        assert_eq!(rejected(Signal::Traces, true, b"{}").0, 0);
    }
}
