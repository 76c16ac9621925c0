//! The one place where an [`ExporterKind`] becomes an exporter, for all three signals: the span
//! and log exporters that feed the batch queues, and the metric readers of the meter provider.
//!
//! Adding an exporter kind touches three files: `config/exporters.rs` (the [`ExporterKind`]
//! variant, its `OTEL_*_EXPORTER` name and the cargo feature it needs), this file (what it
//! exports for each signal, and whether it pushes metrics) and the new exporter's own module
//! (plus its `mod` line in `export/mod.rs`). `traces.rs`, `logs/otlp.rs`, `metrics.rs` and the
//! shutdown in `telemetry/guard.rs` only call [`spans`], [`logs`], [`metric_readers`] and
//! [`pushes_metrics`].

use super::batch::BatchExporter;
use super::build;
use super::console::{ConsoleLogs, ConsoleMetrics, ConsoleSpans};
use super::runtime::Bridge;
use super::{Drops, LogItem};
use crate::config::{Config, ExporterKind, SignalConfig};
use crate::InitError;
use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use tokio::runtime::Handle;

/// The registry behind the Prometheus reader (an uninhabited type without `prometheus`).
#[cfg(feature = "prometheus")]
pub(crate) type Registry = prometheus::Registry;
/// The registry behind the Prometheus reader (an uninhabited type without `prometheus`).
#[cfg(not(feature = "prometheus"))]
pub(crate) type Registry = std::convert::Infallible;

/// The span exporters `sc` selects (OTLP and/or console), in order; combined by
/// [`build::combine`].
pub(crate) fn spans(
    sc: &SignalConfig,
    handle: &Handle,
    resource: &Resource,
    drops: &Arc<Drops>,
) -> Result<Vec<Box<dyn BatchExporter<Box<SpanData>>>>, InitError> {
    let mut list: Vec<Box<dyn BatchExporter<Box<SpanData>>>> = Vec::new();
    for kind in &sc.exporters {
        match kind {
            ExporterKind::Otlp => list.push(build::otlp_spans(sc, handle, resource, drops)?),
            ExporterKind::Console => list.push(Box::new(ConsoleSpans)),
            ExporterKind::Prometheus => {}
        }
    }
    Ok(list)
}

/// The log exporters `sc` selects (OTLP and/or console), in order; combined by
/// [`build::combine`].
pub(crate) fn logs(
    sc: &SignalConfig,
    handle: &Handle,
    resource: &Resource,
    drops: &Arc<Drops>,
) -> Result<Vec<Box<dyn BatchExporter<LogItem>>>, InitError> {
    let mut list: Vec<Box<dyn BatchExporter<LogItem>>> = Vec::new();
    for kind in &sc.exporters {
        match kind {
            ExporterKind::Otlp => list.push(build::otlp_logs(sc, handle, resource, drops)?),
            ExporterKind::Console => list.push(Box::new(ConsoleLogs)),
            ExporterKind::Prometheus => {}
        }
    }
    Ok(list)
}

/// Adds a reader to `b` for each metric exporter `cfg` selects, in order. Returns the builder
/// and, when a Prometheus reader was added, its registry (for the `/metrics` handler).
pub(crate) fn metric_readers(
    cfg: &Config,
    mut b: MeterProviderBuilder,
    bridge: &Bridge,
    registry: Option<Registry>,
) -> Result<(MeterProviderBuilder, Option<Registry>), InitError> {
    #[cfg_attr(not(feature = "prometheus"), allow(unused_mut))]
    let mut prometheus = None;
    for kind in &cfg.metrics.exporters {
        match kind {
            ExporterKind::Otlp => {
                let exporter = build::otlp_metrics(&cfg.metrics, bridge)?;
                b = b.with_reader(
                    PeriodicReader::builder(exporter)
                        .with_interval(cfg.metric_export_interval)
                        .build(),
                );
            }
            ExporterKind::Console => {
                b = b.with_reader(
                    PeriodicReader::builder(ConsoleMetrics)
                        .with_interval(cfg.metric_export_interval)
                        .build(),
                );
            }
            #[cfg(not(feature = "prometheus"))]
            ExporterKind::Prometheus => {
                let _ = &registry;
                crate::config::Compiled::THIS_BUILD.check_builder(
                    crate::config::Signal::Metrics,
                    *kind,
                    cfg.metrics.protocol,
                )?;
            }
            #[cfg(feature = "prometheus")]
            ExporterKind::Prometheus => {
                let registry = registry.clone().unwrap_or_default();
                let exporter = opentelemetry_prometheus::exporter()
                    .with_registry(registry.clone())
                    .build()
                    .map_err(|e| InitError::Exporter {
                        signal: "metrics",
                        message: e.to_string(),
                    })?;
                b = b.with_reader(exporter);
                prometheus = Some(registry);
            }
        }
    }
    Ok((b, prometheus))
}

/// Whether any of the metric exporters `kinds` pushes: only a push reader (OTLP, console) has a
/// final export to lose at shutdown; Prometheus is pulled.
pub(crate) fn pushes_metrics(kinds: &[ExporterKind]) -> bool {
    kinds
        .iter()
        .any(|k| matches!(k, ExporterKind::Otlp | ExporterKind::Console))
}
