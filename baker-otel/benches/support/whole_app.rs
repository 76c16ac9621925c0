//! The application side of the whole-process bench, run in a child process: the same program
//! text on baker-otel's default path (`baker_otel::init()`) or on the peer stack
//! (tracing-opentelemetry + the SDK batch processors + opentelemetry-otlp, and for log lines
//! tracing-subscriber's fmt JSON + the appender bridge). It emits with plain `tracing`, shuts
//! down, and writes what it measured (process CPU, emitting-thread CPU) as one JSON object.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use rustix::time::{clock_gettime, ClockId};
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

/// What the parent asks of one child (passed in `WHOLE_*` environment variables).
#[derive(Debug, Clone)]
pub struct Spec {
    pub ours: bool,
    pub log: bool,
    pub http: bool,
    pub endpoint: String,
    pub items: u64,
    /// Items per second over all threads; `None` for as fast as possible.
    pub rate: Option<u64>,
    /// Items a thread emits between two pacing sleeps.
    pub chunk: u64,
    pub threads: u64,
}

/// What one child measured.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// Items emitted (spans, or log lines).
    pub emitted: u64,
    /// Spans emitted in total (log rows: the enclosing spans).
    pub spans: u64,
    /// Process CPU from just before the first item to after shutdown.
    pub cpu_ns: u64,
    /// CPU of the emitting threads only.
    pub emit_cpu_ns: u64,
    /// Wall time of the emitting loop.
    pub emit_wall_ns: u64,
    /// Wall time of the shutdown.
    pub shutdown_ns: u64,
    /// Process CPU of the initialisation.
    pub init_cpu_ns: u64,
    /// Ours: `baker_otel.exporter.dropped` of the row's signal.
    pub dropped: Option<u64>,
    pub error: Option<String>,
}

/// A CPU clock in ns; 0 with `WHOLE_PROCESS_NO_CLOCK=1` (under valgrind, where rustix's vDSO
/// lookup crashes).
fn ns(id: ClockId) -> u64 {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *OFF.get_or_init(|| std::env::var_os("WHOLE_PROCESS_NO_CLOCK").is_some()) {
        return 0;
    }
    let t = clock_gettime(id);
    (t.tv_sec as u64).saturating_mul(1_000_000_000) + t.tv_nsec as u64
}

/// Log lines per enclosing span in the log row.
pub const LINES_PER_SPAN: u64 = 100;

fn span_row(i: u64) {
    let span = tracing::info_span!("work", a = i, b = "two", c = 3.0, d = true);
    let _e = span.enter();
}

fn log_row() {
    tracing::info!(
        tokens = 812,
        model = "claude-sonnet-4-5",
        "llm call finished"
    );
}

/// Sleeps until `done` items are due at `per_sec` items a second from `start`.
fn pace(start: Instant, done: u64, per_sec: f64) {
    let due = start + Duration::from_secs_f64(done as f64 / per_sec);
    if let Some(d) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(d);
    }
}

/// Emits `spec.items` from `spec.threads` threads, paced when `spec.rate` is set (a sleep
/// against a deadline clock after every `spec.chunk` items); returns the emitting threads' CPU.
/// Log lines go `LINES_PER_SPAN` to an enclosing span.
fn emit(spec: &Spec) -> u64 {
    let threads = spec.threads.max(1);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let n = spec.items / threads + u64::from(t < spec.items % threads);
            let per_sec = spec.rate.map(|r| r as f64 / threads as f64);
            let log = spec.log;
            let chunk = spec.chunk.max(1);
            std::thread::spawn(move || {
                let cpu0 = ns(ClockId::ThreadCPUTime);
                let start = Instant::now();
                let mut i = 0;
                while i < n {
                    let span = log.then(|| {
                        tracing::info_span!("job", conversation_id = "conv-42", job_id = "job-7")
                    });
                    let _e = span.as_ref().map(tracing::Span::enter);
                    let end = if log { n.min(i + LINES_PER_SPAN) } else { n };
                    while i < end {
                        if log {
                            log_row();
                        } else {
                            span_row(i);
                        }
                        i += 1;
                        if let Some(p) = per_sec.filter(|_| i % chunk == 0) {
                            pace(start, i, p);
                        }
                    }
                }
                ns(ClockId::ThreadCPUTime) - cpu0
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
}

/// The installed pipelines of one side.
enum Pipelines {
    Ours(baker_otel::Telemetry),
    Peer(SdkTracerProvider, Option<SdkLoggerProvider>),
}

impl Pipelines {
    /// Shuts down; ours also returns its drop counter for the row's signal.
    fn shutdown(self, log: bool) -> (Option<u64>, Result<(), String>) {
        match self {
            Pipelines::Ours(t) => {
                let r = t.shutdown().map_err(|e| e.to_string());
                let signal = if log {
                    baker_otel::Signal::Logs
                } else {
                    baker_otel::Signal::Traces
                };
                (Some(t.dropped(signal)), r)
            }
            Pipelines::Peer(tp, lp) => {
                let mut errs = Vec::new();
                if let Err(e) = tp.shutdown() {
                    errs.push(format!("traces: {e}"));
                }
                if let Some(lp) = lp {
                    if let Err(e) = lp.shutdown() {
                        errs.push(format!("logs: {e}"));
                    }
                }
                let r = if errs.is_empty() {
                    Ok(())
                } else {
                    Err(errs.join("; "))
                };
                (None, r)
            }
        }
    }
}

/// hyper's client with its requests driven on the application's runtime: the SDK's batch
/// processors poll exports on their own plain threads, where hyper finds no reactor.
#[derive(Debug, Clone)]
struct OnRuntime {
    inner: opentelemetry_http::hyper::HyperClient,
    handle: tokio::runtime::Handle,
}

impl opentelemetry_http::HttpClient for OnRuntime {
    fn send_bytes<'a, 'b>(
        &'a self,
        request: http::Request<bytes::Bytes>,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError>,
                > + Send
                + 'b,
        >,
    >
    where
        'a: 'b,
        Self: 'b,
    {
        let inner = self.inner.clone();
        let task = self
            .handle
            .spawn(async move { inner.send_bytes(request).await });
        Box::pin(async move {
            task.await
                .map_err(|e| -> opentelemetry_http::HttpError { Box::new(e) })?
        })
    }
}

fn peer(spec: &Spec) -> Result<Pipelines, String> {
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    let handle = tokio::runtime::Handle::current();
    let client = || OnRuntime {
        inner: opentelemetry_http::hyper::HyperClient::with_default_connector(
            Duration::from_secs(10),
            None,
        ),
        handle: handle.clone(),
    };
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let spans = if spec.http {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client())
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/traces", spec.endpoint))
            .build()
    } else {
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(spec.endpoint.clone())
            .build()
    }
    .map_err(|e| err(&e))?;
    let tp = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .build();
    let otel = tracing_opentelemetry::layer().with_tracer(tp.tracer("whole-process"));
    // The level a service would set; keeps the SDK's and transports' debug events out.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("opentelemetry", tracing::level_filters::LevelFilter::OFF);
    if !spec.log {
        let s = tracing_subscriber::registry().with(filter).with(otel);
        tracing::subscriber::set_global_default(s).map_err(|e| err(&e))?;
        return Ok(Pipelines::Peer(tp, None));
    }
    let logs = if spec.http {
        opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_http_client(client())
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/logs", spec.endpoint))
            .build()
    } else {
        opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .with_endpoint(spec.endpoint.clone())
            .build()
    }
    .map_err(|e| err(&e))?;
    let lp = SdkLoggerProvider::builder()
        .with_batch_exporter(logs)
        .build();
    let s = tracing_subscriber::registry()
        .with(filter)
        .with(otel)
        .with(tracing_subscriber::fmt::layer().json())
        .with(opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&lp));
    tracing::subscriber::set_global_default(s).map_err(|e| err(&e))?;
    Ok(Pipelines::Peer(tp, Some(lp)))
}

/// Runs one side inside an application runtime, as a `#[tokio::main]` service would.
pub fn run(spec: &Spec) -> Report {
    let mut report = Report {
        emitted: spec.items,
        spans: if spec.log {
            spec.items.div_ceil(LINES_PER_SPAN)
        } else {
            spec.items
        },
        ..Report::default()
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report.error = Some(format!("runtime: {e}"));
            return report;
        }
    };
    let guard = rt.enter();
    let cpu0 = ns(ClockId::ProcessCPUTime);
    let pipelines = if spec.ours {
        // Exactly what a user writes; endpoint and protocol come from OTEL_* variables.
        baker_otel::init()
            .map(Pipelines::Ours)
            .map_err(|e| e.to_string())
    } else {
        peer(spec)
    };
    let pipelines = match pipelines {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(format!("init: {e}"));
            return report;
        }
    };
    let cpu1 = ns(ClockId::ProcessCPUTime);
    let start = Instant::now();
    report.emit_cpu_ns = emit(spec);
    report.emit_wall_ns = start.elapsed().as_nanos() as u64;
    let stop = Instant::now();
    let (dropped, result) = pipelines.shutdown(spec.log);
    report.dropped = dropped;
    if let Err(e) = result {
        report.error = Some(format!("shutdown: {e}"));
    }
    report.shutdown_ns = stop.elapsed().as_nanos() as u64;
    report.cpu_ns = ns(ClockId::ProcessCPUTime) - cpu1;
    report.init_cpu_ns = cpu1 - cpu0;
    drop(guard);
    rt.shutdown_background();
    report
}
