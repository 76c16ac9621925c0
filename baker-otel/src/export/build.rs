//! Builds exporters from a [`SignalConfig`] and adapts them to [`BatchExporter`].

use super::batch::BatchExporter;
#[cfg(feature = "otlp-grpc")]
use super::headers::tonic_metadata;
use super::runtime::{Bridge, InRuntime};
use super::LogItem;
use crate::config::{Compiled, ExporterKind, Signal, SignalConfig};
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::config::{Compression, Protocol};
use crate::InitError;
use futures_util::future::BoxFuture;
use opentelemetry::InstrumentationScope;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use opentelemetry_otlp::WithExportConfig;
#[cfg(feature = "otlp-http")]
use opentelemetry_otlp::WithHttpConfig;
#[cfg(feature = "otlp-grpc")]
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::time::Duration;
use tokio::runtime::Handle;

/// Adapts an SDK [`SpanExporter`] to the batch queue (whose spans are boxed).
pub(crate) struct Spans<E>(pub(crate) E);
impl<E: SpanExporter + 'static> BatchExporter<Box<SpanData>> for Spans<E> {
    fn export(&self, batch: Vec<Box<SpanData>>) -> BoxFuture<'_, OTelSdkResult> {
        // The spans move out of their boxes, which go back for new spans (`recycle`).
        let mut boxes = batch;
        let spans = boxes
            .iter_mut()
            .map(|b| super::recycle::take_out(b))
            .collect();
        super::recycle::give_back(boxes);
        Box::pin(self.0.export(spans))
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// Adapts an SDK [`LogExporter`] to the batch queue.
pub(crate) struct Logs<E>(pub(crate) E);
impl<E: LogExporter + 'static> BatchExporter<LogItem> for Logs<E> {
    fn export(&self, batch: Vec<LogItem>) -> BoxFuture<'_, OTelSdkResult> {
        Box::pin(async move {
            let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
                batch.iter().map(|(r, s)| (r, s)).collect();
            self.0.export(LogBatch::new(&refs)).await
        })
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// Runs a metric exporter's futures inside the export runtime, whichever thread polls them.
#[derive(Debug)]
pub(crate) struct BridgedMetrics<E> {
    pub(crate) inner: E,
    pub(crate) bridge: Bridge,
}
impl<E: PushMetricExporter> PushMetricExporter for BridgedMetrics<E> {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        InRuntime::new(self.bridge.clone(), self.inner.export(metrics))
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.bridge.is_closed() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let _g = self.bridge.enter();
        self.inner.shutdown_with_timeout(timeout)
    }
    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// Fails with [`ConfigError::FeatureDisabled`](crate::ConfigError) when this build lacks the
/// transport `cfg` asks for (set through the builder; the environment is checked when read).
pub(crate) fn require_otlp(cfg: &SignalConfig, signal: Signal) -> Result<(), InitError> {
    Ok(Compiled::THIS_BUILD.check_builder(signal, ExporterKind::Otlp, cfg.protocol)?)
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn err(signal: Signal, e: impl std::fmt::Display) -> InitError {
    InitError::Exporter {
        signal: signal.as_str(),
        message: e.to_string(),
    }
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
macro_rules! otlp_builder {
    ($builder:expr, $cfg:expr, $signal:expr, $drops:expr, $items:expr) => {{
        let cfg: &SignalConfig = $cfg;
        require_otlp(cfg, $signal)?;
        let tls = crate::config::tls::load(&cfg.tls)?;
        match cfg.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => {
                let mut md = tonic_metadata(cfg);
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint(cfg.endpoint.clone())
                    .with_timeout(cfg.timeout);
                if cfg.endpoint.starts_with("https://") {
                    b = b.with_tls_config(super::tls::tonic_config(&tls));
                }
                if let Some(Compression::Gzip) = cfg.compression {
                    b = b.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                b = b.with_metadata(std::mem::take(&mut md));
                b.build().map_err(|e| err($signal, e))?
            }
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                let proto = if cfg.protocol == Protocol::HttpJson {
                    opentelemetry_otlp::Protocol::HttpJson
                } else {
                    opentelemetry_otlp::Protocol::HttpBinary
                };
                let client = counting_client(cfg, &tls, $signal, $drops, $items)?;
                let mut b = $builder
                    .with_http()
                    .with_http_client(client)
                    .with_protocol(proto)
                    .with_endpoint(cfg.endpoint.clone())
                    .with_timeout(cfg.timeout)
                    .with_headers(cfg.headers.iter().cloned().collect());
                if let Some(Compression::Gzip) = cfg.compression {
                    b = b.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                b.build().map_err(|e| err($signal, e))?
            }
            // Only reachable with one transport compiled out, and `require_otlp` refused it.
            #[allow(unreachable_patterns)]
            _ => return Err(err($signal, "OTLP transport not compiled in")),
        }
    }};
}

/// The HTTP client of an OTLP/HTTP exporter, counting partial-success rejections in `drops`, at
/// most the `items` of each request (set by a [`RequestItems`](super::http::RequestItems)).
#[cfg(feature = "otlp-http")]
fn counting_client(
    cfg: &SignalConfig,
    tls: &crate::config::tls::Loaded,
    signal: Signal,
    drops: std::sync::Arc<super::Drops>,
    items: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<super::http::CountingClient, InitError> {
    let client = super::tls::http_client(tls, cfg.endpoint.starts_with("https://"), cfg.timeout)
        .map_err(|e| err(signal, e))?;
    Ok(super::http::CountingClient::new(
        client,
        drops,
        signal,
        cfg.protocol == Protocol::HttpJson,
        items,
    ))
}

/// baker-otel's own OTLP/HTTP protobuf exporter of the signal `E` encodes.
#[cfg(feature = "otlp-http")]
fn http_proto<E: super::http_proto::Encode>(
    cfg: &SignalConfig,
    resource: &Resource,
    drops: &std::sync::Arc<super::Drops>,
) -> Result<super::http::RequestItems<super::http_proto::HttpProto<E>>, InitError> {
    require_otlp(cfg, E::SIGNAL)?;
    let tls = crate::config::tls::load(&cfg.tls)?;
    let items = std::sync::Arc::default();
    let client = counting_client(
        cfg,
        &tls,
        E::SIGNAL,
        drops.clone(),
        std::sync::Arc::clone(&items),
    )?;
    Ok(super::http::RequestItems::new(
        super::http_proto::HttpProto::new(cfg, client, resource)?,
        items,
    ))
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn otlp_spans(
    cfg: &SignalConfig,
    handle: &Handle,
    resource: &Resource,
    drops: &std::sync::Arc<super::Drops>,
) -> Result<Box<dyn BatchExporter<Box<SpanData>>>, InitError> {
    let _g = handle.enter();
    #[cfg(feature = "otlp-grpc")]
    if cfg.protocol == Protocol::Grpc {
        return Ok(Box::new(super::grpc::spans(cfg, resource, drops.clone())?));
    }
    #[cfg(feature = "otlp-http")]
    if cfg.protocol == Protocol::HttpProtobuf {
        return Ok(Box::new(http_proto::<super::proto::TraceEncoder>(
            cfg, resource, drops,
        )?));
    }
    let items = std::sync::Arc::default();
    let mut e = otlp_builder!(
        opentelemetry_otlp::SpanExporter::builder(),
        cfg,
        Signal::Traces,
        drops.clone(),
        std::sync::Arc::clone(&items)
    );
    e.set_resource(resource);
    Ok(request_items(Spans(e), items))
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn otlp_logs(
    cfg: &SignalConfig,
    handle: &Handle,
    resource: &Resource,
    drops: &std::sync::Arc<super::Drops>,
) -> Result<Box<dyn BatchExporter<LogItem>>, InitError> {
    let _g = handle.enter();
    #[cfg(feature = "otlp-grpc")]
    if cfg.protocol == Protocol::Grpc {
        return Ok(Box::new(super::grpc::logs(cfg, resource, drops.clone())?));
    }
    #[cfg(feature = "otlp-http")]
    if cfg.protocol == Protocol::HttpProtobuf {
        return Ok(Box::new(http_proto::<super::proto::LogEncoder>(
            cfg, resource, drops,
        )?));
    }
    let items = std::sync::Arc::default();
    let mut e = otlp_builder!(
        opentelemetry_otlp::LogExporter::builder(),
        cfg,
        Signal::Logs,
        drops.clone(),
        std::sync::Arc::clone(&items)
    );
    e.set_resource(resource);
    Ok(request_items(Logs(e), items))
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn otlp_metrics(
    cfg: &SignalConfig,
    bridge: &Bridge,
) -> Result<BridgedMetrics<opentelemetry_otlp::MetricExporter>, InitError> {
    let _g = bridge.enter();
    // Rejected data points are not counted (the counter covers spans and log records): no
    // request sets the client's item count, so it stays 0.
    let inner = otlp_builder!(
        opentelemetry_otlp::MetricExporter::builder(),
        cfg,
        Signal::Metrics,
        std::sync::Arc::default(),
        std::sync::Arc::default()
    );
    Ok(BridgedMetrics {
        inner,
        bridge: bridge.clone(),
    })
}

/// `exporter`, telling its HTTP client (`http/json`) how many items each request holds.
#[cfg(feature = "otlp-http")]
fn request_items<T: Send + 'static, X: BatchExporter<T>>(
    exporter: X,
    items: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Box<dyn BatchExporter<T>> {
    Box::new(super::http::RequestItems::new(exporter, items))
}

/// Without `otlp-http` there is no HTTP client to tell.
#[cfg(all(feature = "otlp-grpc", not(feature = "otlp-http")))]
fn request_items<T: Send + 'static, X: BatchExporter<T>>(
    exporter: X,
    _: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Box<dyn BatchExporter<T>> {
    Box::new(exporter)
}

/// Without `otlp-grpc` and `otlp-http` there is no OTLP exporter: asking for one is an error.
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
pub(crate) fn otlp_spans(
    cfg: &SignalConfig,
    _: &Handle,
    _: &Resource,
    _: &std::sync::Arc<super::Drops>,
) -> Result<Box<dyn BatchExporter<Box<SpanData>>>, InitError> {
    require_otlp(cfg, Signal::Traces)?;
    Err(err_no_otlp(Signal::Traces))
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
pub(crate) fn otlp_logs(
    cfg: &SignalConfig,
    _: &Handle,
    _: &Resource,
    _: &std::sync::Arc<super::Drops>,
) -> Result<Box<dyn BatchExporter<LogItem>>, InitError> {
    require_otlp(cfg, Signal::Logs)?;
    Err(err_no_otlp(Signal::Logs))
}

/// (The console exporter only names a type; this never returns `Ok`.)
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
pub(crate) fn otlp_metrics(
    cfg: &SignalConfig,
    _: &Bridge,
) -> Result<BridgedMetrics<super::console::ConsoleMetrics>, InitError> {
    require_otlp(cfg, Signal::Metrics)?;
    Err(err_no_otlp(Signal::Metrics))
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
fn err_no_otlp(signal: Signal) -> InitError {
    InitError::Exporter {
        signal: signal.as_str(),
        message: "no OTLP transport compiled in (features otlp-grpc, otlp-http)".into(),
    }
}

impl<T: Send + 'static> BatchExporter<T> for Box<dyn BatchExporter<T>> {
    fn export(&self, batch: Vec<T>) -> BoxFuture<'_, OTelSdkResult> {
        (**self).export(batch)
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        (**self).shutdown(timeout)
    }
}

/// One exporter for a list: none, the only one, or a [`Fanout`] over all of them.
pub(crate) fn combine<T: Clone + Send + 'static>(
    mut list: Vec<Box<dyn BatchExporter<T>>>,
) -> Option<Box<dyn BatchExporter<T>>> {
    match list.len() {
        0 => None,
        1 => list.pop(),
        _ => Some(Box::new(Fanout(list))),
    }
}

/// Fans a batch out to several exporters (e.g. `otlp,console`).
pub(crate) struct Fanout<T>(pub(crate) Vec<Box<dyn BatchExporter<T>>>);
impl<T: Clone + Send + 'static> BatchExporter<T> for Fanout<T> {
    fn export(&self, batch: Vec<T>) -> BoxFuture<'_, OTelSdkResult> {
        Box::pin(async move {
            let mut result = Ok(());
            let last = self.0.len().saturating_sub(1);
            let mut batch = Some(batch);
            for (i, e) in self.0.iter().enumerate() {
                let b = if i == last {
                    batch.take().unwrap_or_default()
                } else {
                    batch.clone().unwrap_or_default()
                };
                if let Err(err) = e.export(b).await {
                    result = Err(err);
                }
            }
            result
        })
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let mut result = Ok(());
        for e in &self.0 {
            if let Err(err) = e.shutdown(timeout) {
                result = Err(err);
            }
        }
        result
    }
}
