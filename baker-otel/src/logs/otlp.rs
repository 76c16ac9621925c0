//! OTLP log records through `opentelemetry-appender-tracing`, with Baker ids added.

use crate::config::{ExporterKind, SignalConfig};
use crate::export::batch::{BatchExporter, BatchQueue};
use crate::export::build::{self, LogItem};
use crate::export::console::ConsoleLogs;
use crate::InitError;
use opentelemetry::logs::LogRecord as _;
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use std::time::Duration;

/// Adds Baker ids (as `conversation_id` / `job_id`, like the JSON lines) from the current context
/// to each record and queues it for export.
#[derive(Debug)]
pub(crate) struct BakerLogProcessor {
    queue: BatchQueue<LogItem>,
    max_value_len: usize,
}

impl BakerLogProcessor {
    pub(crate) fn new(queue: BatchQueue<LogItem>, max_value_len: usize) -> Self {
        Self {
            queue,
            max_value_len,
        }
    }
}

impl LogProcessor for BakerLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        Context::map_current(|cx| {
            // Same keys as the JSON lines (`conversation_id`, `job_id`), so Loki's structured
            // metadata is identical whichever path a line arrived by.
            crate::context::push_id_attributes(cx, |k, v| {
                let key = if k == crate::context::CONVERSATION_ID {
                    "conversation_id"
                } else {
                    "job_id"
                };
                record.add_attribute(
                    key,
                    opentelemetry::logs::AnyValue::from(v.as_str().to_owned()),
                )
            });
        });
        if let Some(opentelemetry::logs::AnyValue::String(body)) = record.body() {
            if body.as_str().len() > self.max_value_len {
                let cut = crate::util::truncate_str(
                    body.as_str(),
                    self.max_value_len
                        .saturating_sub(crate::traces::TRUNCATED.len()),
                );
                let body = format!("{cut}{}", crate::traces::TRUNCATED);
                record.set_body(body.into());
            }
        }
        self.queue.push((record.clone(), scope.clone()));
    }

    fn event_enabled(
        &self,
        _level: opentelemetry::logs::Severity,
        target: &str,
        _name: Option<&str>,
    ) -> bool {
        !is_feedback_target(target)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.queue.flush(Duration::from_secs(5))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.queue.shutdown(timeout)
    }
}

/// The exporters `sc` selects (OTLP and/or console); combined by [`build::combine`].
pub(crate) fn exporters(
    sc: &SignalConfig,
    handle: &tokio::runtime::Handle,
    resource: &Resource,
) -> Result<Vec<Box<dyn BatchExporter<LogItem>>>, InitError> {
    let mut list: Vec<Box<dyn BatchExporter<LogItem>>> = Vec::new();
    for kind in &sc.exporters {
        match kind {
            ExporterKind::Otlp => list.push(build::otlp_logs(sc, handle, resource)?),
            ExporterKind::Console => list.push(Box::new(ConsoleLogs)),
            ExporterKind::Prometheus => {}
        }
    }
    Ok(list)
}

/// The whole log pipeline: the configured exporters plus `extra`, one bounded queue, the
/// Baker log processor and the logger provider (`None` without any exporter).
pub(crate) fn pipeline(
    cfg: &crate::config::Config,
    handle: &tokio::runtime::Handle,
    resource: &Resource,
    extra: Vec<Box<dyn BatchExporter<LogItem>>>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<Option<SdkLoggerProvider>, InitError> {
    let mut list = exporters(&cfg.logs, handle, resource)?;
    list.extend(extra);
    Ok(build::combine(list).map(|e| {
        let q = BatchQueue::start(handle, e, cfg.log_batch, dropped, "logs");
        provider(
            resource.clone(),
            BakerLogProcessor::new(q, cfg.limits.attribute_value_length),
        )
    }))
}

pub(crate) fn provider(resource: Resource, processor: BakerLogProcessor) -> SdkLoggerProvider {
    SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_log_processor(processor)
        .build()
}

/// Targets whose events never become OTLP log records: the exporters' own network stacks
/// (a failing export would log, be exported, fail, log…) and our internal diagnostics.
pub(crate) fn is_feedback_target(target: &str) -> bool {
    const NOISY: &[&str] = &[
        "h2",
        "hyper",
        "hyper_util",
        "tonic",
        "tower",
        "reqwest",
        "opentelemetry",
        "rustls",
        "tokio_util",
    ];
    target.starts_with(crate::INTERNAL_TARGET)
        || NOISY.iter().any(|p| {
            target.starts_with(p)
                && matches!(
                    target.as_bytes().get(p.len()),
                    None | Some(b':') | Some(b'-') | Some(b'_')
                )
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn feedback_targets() {
        for t in [
            "h2",
            "h2::codec",
            "hyper_util::client",
            "tonic::transport",
            "opentelemetry-otlp",
            "opentelemetry_sdk",
            "baker_otel::internal",
        ] {
            assert!(super::is_feedback_target(t), "{t}");
        }
        for t in ["brain", "worker::agent", "hyperion", "towering"] {
            assert!(!super::is_feedback_target(t), "{t}");
        }
    }
}
