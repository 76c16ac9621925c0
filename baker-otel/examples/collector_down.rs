//! Fault report: push spans from an instrumented "handler" while the OTLP collector is up or down.
//!
//! ```text
//! cargo run --release -p baker-otel --example collector_down -- --mode down [--spans 1000000]
//! ```
//!
//! `--mode up` exports to an in-process OTLP/HTTP receiver on loopback, `--mode down` to
//! `127.0.0.1:1` (connection refused). Each handler call creates a server span and a child span
//! (two spans) around a little CPU work, on 4 threads. Prints one JSON object with the handler's
//! p50/p99 latency, the spans dropped (and how many the drop counter accounts for), peak RSS
//! (`VmHWM` from /proc/self/status) and how long `shutdown()` took against its deadline.
//! `scripts/fault-report` runs both modes and compares them.
#[path = "../tests/support/faulty.rs"]
#[allow(missing_docs)]
mod faulty;

use baker_otel::config::{EnvSource, Signal};
use std::time::{Duration, Instant};

const THREADS: usize = 4;
const SHUTDOWN_DEADLINE_MS: u64 = 2000;

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn handler(i: usize) -> u64 {
    let span = tracing::info_span!(
        "handle_request",
        http.request.method = "POST",
        http.route = "/v1/jobs",
        request = i,
        status = 200
    );
    let _e = span.enter();
    let child = tracing::info_span!("load_job", job = i);
    let _c = child.enter();
    // ~1-2 µs of "business logic".
    let mut h = i as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200 {
        h = h.rotate_left(5) ^ h.wrapping_mul(0x100_0000_01b3);
    }
    std::hint::black_box(h)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mode = arg("--mode").unwrap_or_else(|| "down".into());
    let spans: usize = arg("--spans")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let calls = spans / 2;

    let collector = (mode == "up").then(|| faulty::FaultyCollector::start([]));
    let endpoint = collector
        .as_ref()
        .map_or_else(|| "http://127.0.0.1:1".to_owned(), |c| c.endpoint());
    let rss_before = vm_hwm_kib();
    let telemetry = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "fault-report"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "2000"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
            (
                "BAKER_OTEL_SHUTDOWN_TIMEOUT",
                &SHUTDOWN_DEADLINE_MS.to_string(),
            ),
        ]))
        .init()
        .expect("init");

    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let n = calls / THREADS;
                let mut lat = Vec::with_capacity(n / 10 + 1);
                for i in 0..n {
                    let t0 = Instant::now();
                    handler(t * n + i);
                    if i % 10 == 0 {
                        lat.push(t0.elapsed().as_nanos() as u64);
                    }
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<u64> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    let run = started.elapsed();
    lat.sort_unstable();

    let sd = Instant::now();
    let shutdown = telemetry.shutdown();
    let shutdown_ms = sd.elapsed().as_secs_f64() * 1e3;
    let created = (calls / THREADS * THREADS * 2) as u64;
    let dropped = telemetry.dropped(Signal::Traces);
    let received = collector.as_ref().map_or(0, |c| c.accepted_spans() as u64);
    let out = serde_json::json!({
        "mode": mode,
        "spans": created,
        "run_s": run.as_secs_f64(),
        "handler_p50_ns": percentile(&lat, 0.50),
        "handler_p99_ns": percentile(&lat, 0.99),
        "dropped": dropped,
        "received": received,
        "unaccounted": created.saturating_sub(dropped + received),
        "peak_rss_kib": vm_hwm_kib(),
        "rss_before_init_kib": rss_before,
        "shutdown_ms": shutdown_ms,
        "shutdown_deadline_ms": SHUTDOWN_DEADLINE_MS,
        "shutdown_ok": shutdown.is_ok(),
        "shutdown_error": shutdown.err().map(|e| e.to_string()),
    });
    println!("{out}");
    std::thread::sleep(Duration::from_millis(10));
}
