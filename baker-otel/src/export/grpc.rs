//! baker-otel's OTLP/gRPC exporter for spans and log records: the request encoded once from the
//! SDK's data ([`proto`](super::proto)), sent by [`grpc_call`](super::grpc_call) so that retries
//! share the bytes instead of copying the request.
//!
//! Over the upstream exporter it adds what production collectors need: rejected items of an OTLP
//! partial success are counted in `baker_otel.exporter.dropped{reason="rejected"}` (at most the
//! items of the request, whatever the collector claims), and retries
//! honour the server's `RetryInfo` (bounded; the batch queue's export timeout bounds the whole).
//! Retryable codes follow the OTLP specification: `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`,
//! `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`, and `RESOURCE_EXHAUSTED` only with `RetryInfo`.

use super::batch::BatchExporter;
use super::grpc_call::{self, unary};
use super::proto::{LogEncoder, TraceEncoder};
use super::LogItem;
use super::{DropReason, Drops};
use crate::config::{Compression, Signal, SignalConfig};
use crate::util::RateLimiter;
use crate::InitError;
use futures_util::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

/// What both signals share: the channel, headers, limits and counters.
struct Common {
    channel: Channel,
    metadata: MetadataMap,
    compression: Option<CompressionEncoding>,
    timeout: Duration,
    drops: Arc<Drops>,
    warn: RateLimiter,
    signal: &'static str,
}

/// The delay before the next attempt after `status`, or `None` when it must not be retried.
pub(crate) fn retry_delay(status: &tonic::Status, attempt: u32) -> Option<Duration> {
    use tonic::Code;
    use tonic_types::StatusExt;
    let throttle = status.get_details_retry_info().and_then(|r| r.retry_delay);
    let retryable = match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => throttle.is_some(),
        _ => false,
    };
    if !retryable {
        return None;
    }
    super::retry::delay(attempt, throttle)
}

impl Common {
    fn new(cfg: &SignalConfig, drops: Arc<Drops>, signal: Signal) -> Result<Self, InitError> {
        let tls = crate::config::tls::load(&cfg.tls)?;
        let err = |e: &dyn std::fmt::Display| InitError::Exporter {
            signal: signal.as_str(),
            message: e.to_string(),
        };
        let mut endpoint = tonic::transport::Endpoint::from_shared(cfg.endpoint.clone())
            .map_err(|e| err(&e))?
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout);
        if cfg.endpoint.starts_with("https://") {
            endpoint = endpoint
                .tls_config(super::tls::tonic_config(&tls))
                .map_err(|e| err(&e))?;
        }
        Ok(Self {
            channel: endpoint.connect_lazy(),
            metadata: super::headers::tonic_metadata(cfg),
            compression: cfg.compression.map(|c| match c {
                Compression::Gzip => CompressionEncoding::Gzip,
            }),
            timeout: cfg.timeout,
            drops,
            warn: RateLimiter::new(Duration::from_secs(60)),
            signal: signal.as_str(),
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        *r.metadata_mut() = self.metadata.clone();
        r.set_timeout(self.timeout);
        r
    }

    /// Sends a request of `items` spans or records with retries; `attempt_once` answers
    /// `Ok((rejected, message))` on (partial) success. The collector's `rejected` is counted up
    /// to `items`: a negative or inflated claim cannot corrupt the drop counter.
    async fn send<F, Fut>(&self, items: usize, mut attempt_once: F) -> OTelSdkResult
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(i64, String), tonic::Status>>,
    {
        let mut attempt = 0;
        loop {
            match attempt_once().await {
                Ok((rejected, message)) => {
                    let n = u64::try_from(rejected)
                        .unwrap_or(0)
                        .min(u64::try_from(items).unwrap_or(u64::MAX));
                    if n > 0 {
                        let total = self.drops.add(DropReason::Rejected, n);
                        if self.warn.allow() {
                            tracing::warn!(
                                target: crate::INTERNAL_TARGET,
                                signal = self.signal,
                                rejected = n,
                                dropped_total = total,
                                collector_message = %crate::util::truncate_str(&message, 300),
                                "the collector rejected {n} {} of an export (OTLP partial success); counted in baker_otel.exporter.dropped{{reason=\"rejected\"}}, this warning repeats at most once a minute",
                                self.signal
                            );
                        }
                    }
                    return Ok(());
                }
                Err(status) => match retry_delay(&status, attempt) {
                    Some(delay) => {
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                    }
                    None => {
                        // The status message may echo request data; only the code is reported.
                        return Err(OTelSdkError::InternalFailure(format!(
                            "OTLP/gRPC export failed: {:?} after {} attempt(s)",
                            status.code(),
                            attempt + 1
                        )));
                    }
                },
            }
        }
    }
}

/// Spans over OTLP/gRPC, the request encoded straight from the spans
/// ([`proto`](super::proto)).
pub(crate) struct GrpcSpans(Common, TraceEncoder);

impl BatchExporter<Box<SpanData>> for GrpcSpans {
    fn export(&self, batch: Vec<Box<SpanData>>) -> BoxFuture<'_, OTelSdkResult> {
        let c = &self.0;
        let items = batch.len();
        let req = bytes::Bytes::from(self.1.encode(&batch));
        super::recycle::give_back(batch);
        Box::pin(async move {
            c.send(items, || {
                let call = unary::<ExportTraceServiceResponse>(
                    c.channel.clone(),
                    c.compression,
                    &grpc_call::TRACES,
                    c.request(req.clone()),
                );
                async move {
                    let resp = call.await?;
                    Ok(resp
                        .partial_success
                        .map(|p| (p.rejected_spans, p.error_message))
                        .unwrap_or_default())
                }
            })
            .await
        })
    }
    fn shutdown(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Log records over OTLP/gRPC, the request encoded straight from the records
/// ([`proto`](super::proto)).
pub(crate) struct GrpcLogs(Common, LogEncoder);

impl BatchExporter<LogItem> for GrpcLogs {
    fn export(&self, batch: Vec<LogItem>) -> BoxFuture<'_, OTelSdkResult> {
        let c = &self.0;
        let items = batch.len();
        let req = bytes::Bytes::from(self.1.encode(&batch));
        drop(batch);
        Box::pin(async move {
            c.send(items, || {
                let call = unary::<ExportLogsServiceResponse>(
                    c.channel.clone(),
                    c.compression,
                    &grpc_call::LOGS,
                    c.request(req.clone()),
                );
                async move {
                    let resp = call.await?;
                    Ok(resp
                        .partial_success
                        .map(|p| (p.rejected_log_records, p.error_message))
                        .unwrap_or_default())
                }
            })
            .await
        })
    }
    fn shutdown(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

pub(crate) fn spans(
    cfg: &SignalConfig,
    resource: &Resource,
    drops: Arc<Drops>,
) -> Result<GrpcSpans, InitError> {
    Ok(GrpcSpans(
        Common::new(cfg, drops, Signal::Traces)?,
        TraceEncoder::new(resource),
    ))
}

pub(crate) fn logs(
    cfg: &SignalConfig,
    resource: &Resource,
    drops: Arc<Drops>,
) -> Result<GrpcLogs, InitError> {
    Ok(GrpcLogs(
        Common::new(cfg, drops, Signal::Logs)?,
        LogEncoder::new(resource),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::retry::{INITIAL_BACKOFF, MAX_RETRIES, MAX_THROTTLE};
    use tonic::Code;

    #[test]
    fn retry_follows_the_otlp_spec_and_retry_info() {
        let plain = |code| tonic::Status::new(code, "x");
        assert_eq!(
            retry_delay(&plain(Code::Unavailable), 0),
            Some(INITIAL_BACKOFF)
        );
        assert_eq!(
            retry_delay(&plain(Code::Unavailable), 2),
            Some(INITIAL_BACKOFF * 4)
        );
        assert_eq!(retry_delay(&plain(Code::Unavailable), MAX_RETRIES), None);
        assert_eq!(retry_delay(&plain(Code::ResourceExhausted), 0), None);
        assert_eq!(retry_delay(&plain(Code::InvalidArgument), 0), None);
        assert_eq!(retry_delay(&plain(Code::Unauthenticated), 0), None);

        use tonic_types::{ErrorDetails, StatusExt};
        let throttled = |code, d| {
            tonic::Status::with_error_details(
                code,
                "slow down",
                ErrorDetails::with_retry_info(Some(d)),
            )
        };
        assert_eq!(
            retry_delay(
                &throttled(Code::ResourceExhausted, Duration::from_millis(700)),
                0
            ),
            Some(Duration::from_millis(700))
        );
        assert_eq!(
            retry_delay(&throttled(Code::Unavailable, Duration::from_secs(3600)), 1),
            Some(MAX_THROTTLE),
            "a server's delay is honoured up to a bound"
        );
    }
}
