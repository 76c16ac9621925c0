//! In-memory capture for tests (feature `testing`).
//!
//! A [`Capture`] runs the real baker-otel pipelines — the same span and log processors, JSON
//! layer and meter provider as production — but exports into memory, so tests can assert on the
//! spans, log records, JSON lines and metrics their code produced.
//!
//! Captures are **scoped**: any number of them can live in one process, on parallel test
//! threads, each seeing only what ran under it. Code runs under a capture inside
//! [`Capture::in_scope`] / [`Capture::set_default`] (this thread: every task of a
//! current-thread runtime, e.g. `#[tokio::test]`) or [`Capture::bind`] (one future, on any
//! thread). Integrations are built from [`Capture::telemetry`] exactly as from the guard
//! `init()` returns, so their spans and metrics land in the same capture. No process-global
//! state is touched: `cargo test` (one process, many threads) and `cargo nextest` both work.
//!
//! ```
//! use baker_otel::testing::Capture;
//!
//! let capture = Capture::new();
//! capture.in_scope(|| {
//!     let span = tracing::info_span!("work", answer = 42);
//!     let _e = span.enter();
//!     tracing::info!("done");
//! });
//! let span = capture.span("work");
//! assert_eq!(Capture::attr(&span, "answer").unwrap().to_string(), "42");
//! let line = &capture.json_lines()[0];
//! assert_eq!(line["trace_id"], span.span_context.trace_id().to_string());
//! ```

use crate::config::{EnvSource, ExporterKind, Signal};
use crate::export::build::{Logs, Spans};
use crate::logs::json::JsonSink;
use crate::telemetry::Overrides;
use crate::{Telemetry, TelemetryBuilder};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::logs::{in_memory_exporter::LogDataWithResource, InMemoryLogExporter};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use opentelemetry_sdk::trace::SpanData as CapturedSpan;

#[derive(Clone, Debug, Default)]
struct Sinks {
    spans: InMemorySpanExporter,
    logs: InMemoryLogExporter,
    metrics: InMemoryMetricExporter,
}

impl Sinks {
    fn overrides(&self) -> Overrides {
        let exporter = self.metrics.clone();
        Overrides {
            spans: Box::new(Spans(self.spans.clone())),
            logs: Box::new(Logs(self.logs.clone())),
            metrics: Box::new(move |b| {
                b.with_reader(
                    PeriodicReader::builder(exporter)
                        .with_interval(Duration::from_secs(3600))
                        .build(),
                )
            }),
        }
    }
}

/// Captures everything the code under test emits. See the [module docs](self).
#[derive(Debug)]
pub struct Capture {
    telemetry: Telemetry,
    dispatch: tracing::Dispatch,
    sinks: Sinks,
    json: Arc<Mutex<Vec<String>>>,
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

impl Capture {
    /// A capture with service name `test`, all levels down to `trace`, and the Prometheus
    /// `/metrics` handler enabled. The process environment is ignored.
    pub fn new() -> Self {
        Self::with_builder(Telemetry::builder())
    }

    /// A capture built from `builder` (service name, filter, …); exporters are replaced by
    /// in-memory sinks. Unless the builder sets one, the environment is empty.
    pub fn with_builder(builder: TelemetryBuilder) -> Self {
        let json = Arc::new(Mutex::new(Vec::new()));
        let sinks = Sinks::default();
        let mut b = builder;
        if b.env.is_process() {
            b.env = EnvSource::from_pairs([("OTEL_SERVICE_NAME", "test"), ("RUST_LOG", "trace")]);
        }
        b.overrides = Some(sinks.overrides());
        let b = b
            .json_sink(JsonSink::Memory(json.clone()))
            .exporters(Signal::Traces, [])
            .exporters(Signal::Logs, [])
            .exporters(Signal::Metrics, [ExporterKind::Prometheus]);
        let (telemetry, dispatch) = b.build().expect("capture configuration is valid");
        Self {
            telemetry,
            dispatch,
            sinks,
            json,
        }
    }

    /// The capture's hub: build the code under test's integrations from it
    /// (`OtelLayer::new(capture.telemetry())`, `NatsTelemetry::new(capture.telemetry())`, …).
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// assert_eq!(capture.telemetry().config().service_name, "test");
    /// ```
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// The meter provider of the capture.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider;
    /// let capture = baker_otel::testing::Capture::new();
    /// capture.meter_provider().meter("t").u64_counter("n").build().add(2, &[]);
    /// assert_eq!(capture.metric_total("n"), Some(2.0));
    /// ```
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        self.telemetry
            .meter_provider()
            .expect("capture always has metrics")
    }

    /// Runs `future` under this capture wherever it is polled (another thread, a spawned task).
    /// Tasks *it* spawns do not inherit the capture: bind them too, or run the test on a
    /// current-thread runtime under [`set_default`](Self::set_default).
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    /// rt.block_on(async {
    ///     tokio::spawn(capture.bind(async { tracing::info!("from a worker thread") })).await.unwrap();
    /// });
    /// assert_eq!(capture.json_lines().len(), 1);
    /// ```
    pub fn bind<F: std::future::Future>(&self, future: F) -> tracing::instrument::WithDispatch<F> {
        use tracing::instrument::WithSubscriber;
        future.with_subscriber(self.dispatch.clone())
    }

    /// The `tracing` dispatcher.
    pub fn dispatch(&self) -> &tracing::Dispatch {
        &self.dispatch
    }

    /// Makes the capture the default subscriber of this thread until the guard drops.
    pub fn set_default(&self) -> tracing::dispatcher::DefaultGuard {
        tracing::dispatcher::set_default(&self.dispatch)
    }

    /// Runs `f` with the capture as this thread's subscriber.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Flushes every pipeline into memory.
    pub fn flush(&self) {
        let _ = self.telemetry.force_flush();
    }

    /// Finished spans so far (flushes first).
    pub fn spans(&self) -> Vec<SpanData> {
        self.flush();
        self.sinks.spans.get_finished_spans().unwrap_or_default()
    }

    /// The first finished span named `name`; panics with the names seen otherwise.
    #[track_caller]
    pub fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();
        spans
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span named {name:?}; captured: {names:?}"))
    }

    /// Value of attribute `key` on `span`.
    pub fn attr(span: &SpanData, key: &str) -> Option<Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key == Key::new(key.to_owned()))
            .map(|kv| kv.value.clone())
    }

    /// Log records exported over the OTLP log pipeline (flushes first).
    pub fn logs(&self) -> Vec<LogDataWithResource> {
        self.flush();
        self.sinks.logs.get_emitted_logs().unwrap_or_default()
    }

    /// JSON lines written so far, parsed.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        let lines = self.json.lock().map(|l| l.clone()).unwrap_or_default();
        lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("every JSON log line is valid JSON"))
            .collect()
    }

    /// Collected metrics (flushes first).
    pub fn metrics(&self) -> Vec<ResourceMetrics> {
        self.flush();
        self.sinks
            .metrics
            .get_finished_metrics()
            .unwrap_or_default()
    }

    /// For the last collection: the sum of a counter / up-down counter, the last value of a
    /// gauge, or the sum of a histogram, over all data points of metric `name`.
    pub fn metric_total(&self, name: &str) -> Option<f64> {
        let all = self.metrics();
        let last = all.last()?;
        let v = last
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .find(|m| m.name() == name)
            .map(|m| total(m.data()));
        v
    }

    /// For the last collection: the number of measurements of histogram `name`.
    pub fn histogram_count(&self, name: &str) -> Option<u64> {
        let all = self.metrics();
        let last = all.last()?;
        let m = last
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .find(|m| m.name() == name)?;
        fn count<T>(d: &MetricData<T>) -> u64 {
            match d {
                MetricData::Histogram(h) => h.data_points().map(|p| p.count()).sum(),
                _ => 0,
            }
        }
        Some(match m.data() {
            AggregatedMetrics::F64(d) => count(d),
            AggregatedMetrics::U64(d) => count(d),
            AggregatedMetrics::I64(d) => count(d),
        })
    }

    /// The Prometheus text `/metrics` would serve now.
    pub fn prometheus_text(&self) -> String {
        self.telemetry
            .metrics_handler()
            .map(|h| h.render())
            .unwrap_or_default()
    }
}

fn total(data: &AggregatedMetrics) -> f64 {
    fn t<T: Copy>(d: &MetricData<T>, f: fn(T) -> f64) -> f64 {
        match d {
            MetricData::Sum(s) => s.data_points().map(|p| f(p.value())).sum(),
            MetricData::Gauge(g) => g.data_points().map(|p| f(p.value())).sum(),
            MetricData::Histogram(h) => h.data_points().map(|p| f(p.sum())).sum(),
            MetricData::ExponentialHistogram(h) => h.data_points().map(|p| f(p.sum())).sum(),
        }
    }
    match data {
        AggregatedMetrics::F64(d) => t(d, |v| v),
        AggregatedMetrics::U64(d) => t(d, |v| v as f64),
        AggregatedMetrics::I64(d) => t(d, |v| v as f64),
    }
}
