//! `console` exporters: readable one-line-per-item output on stderr for local work
//! (stdout is reserved for the JSON log lines).

use super::batch::BatchExporter;
use super::LogItem;
use futures_util::future::BoxFuture;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::SpanData;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

/// Prints spans as `span <trace_id> <span_id> <- <parent> <kind> <name> <duration> k=v…`.
#[derive(Debug, Default)]
pub(crate) struct ConsoleSpans;

pub(crate) fn format_span(s: &SpanData) -> String {
    let dur = s.end_time.duration_since(s.start_time).unwrap_or_default();
    let mut line = format!(
        "span {} {} <- {} {:?} {:?} {:.3}ms",
        s.span_context.trace_id(),
        s.span_context.span_id(),
        s.parent_span_id,
        s.span_kind,
        s.name,
        dur.as_secs_f64() * 1e3
    );
    for kv in &s.attributes {
        let _ = write!(line, " {}={}", kv.key, kv.value);
    }
    if let opentelemetry::trace::Status::Error { description } = &s.status {
        let _ = write!(line, " status=error({description})");
    }
    line
}

impl BatchExporter<Box<SpanData>> for ConsoleSpans {
    fn export(&self, batch: Vec<Box<SpanData>>) -> BoxFuture<'_, OTelSdkResult> {
        let mut out = String::new();
        for s in &batch {
            out.push_str(&format_span(s));
            out.push('\n');
        }
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        Box::pin(std::future::ready(Ok(())))
    }
    fn shutdown(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Prints log records as `log <severity> <trace_id> <body> k=v…`.
#[derive(Debug, Default)]
pub(crate) struct ConsoleLogs;

impl BatchExporter<LogItem> for ConsoleLogs {
    fn export(&self, batch: Vec<LogItem>) -> BoxFuture<'_, OTelSdkResult> {
        let mut out = String::new();
        for (r, _) in &batch {
            let trace = r
                .trace_context()
                .map(|t| t.trace_id.to_string())
                .unwrap_or_default();
            let body = r.body().map(|b| format!("{b:?}")).unwrap_or_default();
            let _ = write!(
                out,
                "log {} {} {}",
                r.severity_text().unwrap_or(""),
                trace,
                body
            );
            for (k, v) in r.attributes_iter() {
                let _ = write!(out, " {k}={v:?}");
            }
            out.push('\n');
        }
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        Box::pin(std::future::ready(Ok(())))
    }
    fn shutdown(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Prints each metric as `metric <name> <unit> points=<n>` with sums/values.
#[derive(Debug, Default)]
pub(crate) struct ConsoleMetrics;

impl PushMetricExporter for ConsoleMetrics {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let mut out = String::new();
        for scope in metrics.scope_metrics() {
            for m in scope.metrics() {
                let _ = write!(out, "metric {} {}", m.name(), m.unit());
                describe(&mut out, m.data());
                out.push('\n');
            }
        }
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        std::future::ready(Ok(()))
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

fn describe(out: &mut String, data: &AggregatedMetrics) {
    fn points<T: std::fmt::Debug + Copy>(out: &mut String, d: &MetricData<T>) {
        match d {
            MetricData::Sum(s) => {
                for p in s.data_points() {
                    let _ = write!(out, " sum={:?}", p.value());
                }
            }
            MetricData::Gauge(g) => {
                for p in g.data_points() {
                    let _ = write!(out, " value={:?}", p.value());
                }
            }
            MetricData::Histogram(h) => {
                for p in h.data_points() {
                    let _ = write!(out, " count={} sum={:?}", p.count(), p.sum());
                }
            }
            MetricData::ExponentialHistogram(h) => {
                for p in h.data_points() {
                    let _ = write!(out, " count={}", p.count());
                }
            }
        }
    }
    match data {
        AggregatedMetrics::F64(d) => points(out, d),
        AggregatedMetrics::U64(d) => points(out, d),
        AggregatedMetrics::I64(d) => points(out, d),
    }
}
