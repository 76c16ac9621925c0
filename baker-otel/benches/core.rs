//! Core hot paths, each with its peer baseline in the same run (see ../shared/DESIGN.md §5).
//!
//! * `span/*`     — span create + 4 attributes + end: baker-otel vs tracing-opentelemetry
//!   defaults (and its lean config) vs the raw OpenTelemetry SDK. Targets: ours ≤ 0.6× t-o default,
//!   ≤ 1.5× the raw SDK (both also timed paired).
//!   `span/ours via t-o layer`: the same span from a callsite `CompatSpans::auto()` hands to
//!   tracing-opentelemetry's own layer (baker-otel's pipeline behind it). Target ≤ 1.0× t-o.
//! * `json_log/*` — one event inside a span carrying trace/conversation/job ids: baker-otel JSON
//!   line (+ OTLP log record) vs tracing-subscriber fmt JSON + t-o. Target ≤ 0.5×.
//! * `disabled/*` — a span with the SDK disabled vs a bare `tracing` span with no subscriber.
//!   Target ≤ 5 ns.
//!
//! Every pipeline exports into a discarding exporter through its real batch processor, so the
//! figures measure instrumentation cost, not the network. After the criterion run the ratios are
//! printed and written to `target/bench-core.json`; the span and JSON rows are then also timed
//! *paired* (ours and the peer in alternating rounds, see `support/paired.rs`), which is what
//! `scripts/bench` reports because it survives a noisy machine.
//!
//! **Instruction counts.** The bench bodies are `#[inline(never)]` (`core::span_body`,
//! `core::log_line`, …), so callgrind gives their inclusive instructions per call, e.g.
//! `valgrind --tool=callgrind --fair-sched=yes <bench binary> --bench --profile-time 2 --exact
//! span/ours`. `--fair-sched=yes` matters for the span rows: with valgrind's default scheduling
//! the export thread runs too seldom, the 2048-span queue fills and most spans take the drop path
//! (and the figures wander by ±2 % from run to run). Measured 2026-12:
//! * `span/ours` 3 710–3 745 per span.
//! * The recycle pool (`src/export/recycle.rs`: up to 512 exported spans' boxes and attribute
//!   vectors, process-wide, handed back to new spans): without it 4 098–4 105, the new span's box
//!   and attribute vector coming from memory freed on the export thread (`SpanRecord::starting`
//!   318 → 745). Worth ≈ 375 (≈ 10 %) of the row; kept. On the drop path (collector down, or
//!   valgrind's default scheduling) it is worth ≈ 1–2 %.
//! * A recycled span keeps its scope when the new span's is the same (`same_scope` in
//!   `src/span_layer/record.rs`): saves a scope clone and drop, ≈ 100 (measured when introduced).
//! * Links and events of an OpenTelemetry-API span read with `if let` rather than
//!   `.into_iter().flatten()` (`src/span_layer/starter.rs`): ≈ 40 (measured when introduced).
//! * Ids hex-encoded through a 256-entry table of digit pairs (`src/propagation/hex.rs`): a trace
//!   id in ≈ 50 instead of ≈ 110 with two nibble lookups per byte (measured when introduced).
//! * `json_log`: the timestamp's digits written into a fixed buffer (`src/logs/json.rs`) instead
//!   of `write!`, which cost ≈ 2 000 per line (measured when introduced).
#[path = "support/paired.rs"]
mod paired;

use baker_otel::config::EnvSource;
use baker_otel::context::BakerScope;
use baker_otel::JsonSink;
use criterion::Criterion;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct Discard;
impl SpanExporter for Discard {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        black_box(batch);
        std::future::ready(Ok(()))
    }
}
impl LogExporter for Discard {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn ours(otlp_logs: bool) -> (baker_otel::Telemetry, Dispatch) {
    ours_with(otlp_logs, baker_otel::CompatSpans::default())
}

/// `ours` with tracing-opentelemetry's layer on for the spans `CompatSpans::auto()` selects.
fn ours_compat() -> (baker_otel::Telemetry, Dispatch) {
    ours_with(true, baker_otel::CompatSpans::auto())
}

fn ours_with(
    otlp_logs: bool,
    compat: baker_otel::CompatSpans,
) -> (baker_otel::Telemetry, Dispatch) {
    let mut b = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "bench"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "65536"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "65536"),
            ("RUST_LOG", "info"),
        ]))
        .json_sink(JsonSink::Writer(Arc::new(Mutex::new(std::io::sink()))))
        .with_span_exporter(Discard)
        .compat_spans(compat);
    if otlp_logs {
        b = b.with_log_exporter(Discard);
    }
    b.build().expect("bench pipeline")
}

fn sdk_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(Discard)
        .build()
}

/// tracing-opentelemetry with its default configuration (the span peer).
fn peer_span_dispatch(tp: &SdkTracerProvider) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tp.tracer("peer"))),
    )
}

/// tracing-opentelemetry + tracing-subscriber's fmt JSON layer (the JSON log line peer).
fn peer_json_dispatch(tp: &SdkTracerProvider) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tp.tracer("peer")))
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::sink),
            ),
    )
}

fn bench_disabled(c: &mut Criterion) {
    let mut g = c.benchmark_group("disabled");
    let (t, d) = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_SDK_DISABLED", "true"),
            ("RUST_LOG", "info"),
        ]))
        .json_sink(JsonSink::Writer(Arc::new(Mutex::new(std::io::sink()))))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&d, || {
        g.bench_function("ours", |b| b.iter(disabled_body));
    });
    tracing::dispatcher::with_default(&Dispatch::none(), || {
        g.bench_function("no subscriber", |b| b.iter(no_subscriber_body));
    });
    g.finish();
    let _ = t.shutdown();
}

// The bodies are `inline(never)` so that a profiler (callgrind) reports their cost per call.
#[inline(never)]
fn disabled_body() {
    drop(black_box(tracing::info_span!(
        "work",
        a = 1,
        b = "two",
        c = 3.0,
        d = true
    )));
}

#[inline(never)]
fn no_subscriber_body() {
    drop(black_box(tracing::info_span!(
        "work2",
        a = 1,
        b = "two",
        c = 3.0,
        d = true
    )));
}

#[inline(never)]
fn raw_sdk_body(tracer: &opentelemetry_sdk::trace::SdkTracer) {
    let mut s = tracer.start("handle");
    s.set_attribute(opentelemetry::KeyValue::new("a", 1));
    s.set_attribute(opentelemetry::KeyValue::new("b", "two"));
    s.set_attribute(opentelemetry::KeyValue::new("c", 3.0));
    s.set_attribute(opentelemetry::KeyValue::new("d", true));
    s.end();
}

#[inline(never)]
fn span_body() {
    let span = tracing::info_span!("handle", a = 1, b = "two", c = 3.0, d = true);
    drop(black_box(span));
}

/// The same span from a callsite `CompatSpans::auto()` hands to tracing-opentelemetry's layer
/// (the target of axum-/tonic-tracing-opentelemetry's spans), with baker-otel's pipeline behind.
#[inline(never)]
fn compat_span_body() {
    let span =
        tracing::info_span!(target: "otel::tracing", "handle", a = 1, b = "two", c = 3.0, d = true);
    drop(black_box(span));
}

fn bench_span(c: &mut Criterion) {
    let mut g = c.benchmark_group("span");
    let (t, d) = ours(true);
    tracing::dispatcher::with_default(&d, || g.bench_function("ours", |b| b.iter(span_body)));
    let _ = t.shutdown();
    // With tracing-opentelemetry's layer on (`CompatSpans::auto()`): a span it records, and
    // what its per-layer filter costs the spans baker-otel's layer still records.
    let (t, d) = ours_compat();
    tracing::dispatcher::with_default(&d, || {
        g.bench_function("ours via t-o layer", |b| b.iter(compat_span_body));
        g.bench_function("ours, t-o layer on", |b| b.iter(span_body));
    });
    let _ = t.shutdown();

    let tp = sdk_provider();
    let peer = peer_span_dispatch(&tp);
    tracing::dispatcher::with_default(&peer, || {
        g.bench_function("t-o default", |b| b.iter(span_body))
    });
    let lean = Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_opentelemetry::layer()
                .with_tracer(tp.tracer("peer"))
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false),
        ),
    );
    tracing::dispatcher::with_default(&lean, || {
        g.bench_function("t-o lean", |b| b.iter(span_body))
    });

    let tracer = tp.tracer("raw");
    g.bench_function("raw sdk", |b| b.iter(|| raw_sdk_body(&tracer)));
    g.finish();
    let _ = tp.shutdown();
}

fn bench_json(c: &mut Criterion) {
    let mut g = c.benchmark_group("json_log");
    for (name, otlp) in [("ours", true), ("ours json only", false)] {
        let (t, d) = ours(otlp);
        tracing::dispatcher::with_default(&d, || {
            let span = tracing::info_span!("job");
            let _e = span.enter();
            BakerScope::current()
                .conversation_id("conv-42")
                .job_id("job-7")
                .in_scope(|| {
                    g.bench_function(name, |b| b.iter(log_line));
                });
        });
        let _ = t.shutdown();
    }
    let tp = sdk_provider();
    let peer = peer_json_dispatch(&tp);
    tracing::dispatcher::with_default(&peer, || {
        let span = tracing::info_span!("job", conversation_id = "conv-42", job_id = "job-7");
        let _e = span.enter();
        g.bench_function("fmt json + t-o", |b| b.iter(log_line));
    });
    g.finish();
    let _ = tp.shutdown();
}

/// Criterion writes under `$CARGO_TARGET_DIR/criterion` or, by default, `<crate>/target/criterion`.
fn estimate(group: &str, id: &str) -> Option<f64> {
    let dirs = [
        format!("{}/criterion", target_dir()),
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/criterion").to_owned(),
    ];
    dirs.iter().find_map(|d| {
        let text = std::fs::read_to_string(format!("{d}/{group}/{id}/new/estimates.json")).ok()?;
        serde_json::from_str::<serde_json::Value>(&text).ok()?["median"]["point_estimate"].as_f64()
    })
}

fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned())
}

fn report() {
    let rows = [
        ("span vs t-o default", "span", "ours", "t-o default", 0.6),
        (
            "span via t-o layer vs t-o default",
            "span",
            "ours via t-o layer",
            "t-o default",
            1.0,
        ),
        (
            "span with t-o layer on vs off",
            "span",
            "ours, t-o layer on",
            "ours",
            f64::NAN,
        ),
        ("span vs raw sdk", "span", "ours", "raw sdk", f64::NAN),
        (
            "json log line vs fmt json + t-o",
            "json_log",
            "ours",
            "fmt json + t-o",
            0.5,
        ),
        (
            "json log line (json only) vs fmt json + t-o",
            "json_log",
            "ours json only",
            "fmt json + t-o",
            0.5,
        ),
        (
            "disabled span vs no subscriber",
            "disabled",
            "ours",
            "no subscriber",
            f64::NAN,
        ),
    ];
    let mut out = Vec::new();
    println!(
        "\n{:<48} {:>10} {:>10} {:>7} {:>7}",
        "row", "ours ns", "peer ns", "ratio", "target"
    );
    for (name, group, ours, peer, target) in rows {
        let (Some(o), Some(p)) = (estimate(group, ours), estimate(group, peer)) else {
            continue;
        };
        println!(
            "{name:<48} {o:>10.1} {p:>10.1} {:>7.2} {:>7}",
            o / p,
            if target.is_nan() {
                "-".into()
            } else {
                format!("{target}")
            }
        );
        out.push(serde_json::json!({"name": name, "ours_ns": o, "peer": peer, "peer_ns": p, "ratio": o / p, "target": if target.is_nan() { serde_json::Value::Null } else { target.into() }}));
    }
    let _ = std::fs::write(
        format!("{}/bench-core.json", target_dir()),
        serde_json::to_string_pretty(&out).unwrap(),
    );
}

#[inline(never)]
fn log_line() {
    tracing::info!(
        tokens = 812,
        model = "claude-sonnet-4-5",
        "llm call finished"
    );
}

/// Span and JSON rows timed in alternating rounds; written to `target/bench-paired/core.json`.
fn paired_rows() {
    let (t, ours) = ours(true);
    let (tc, compat_on) = ours_compat();
    let tp = sdk_provider();
    let peer_span = peer_span_dispatch(&tp);
    let peer_json = peer_json_dispatch(&tp);
    let in_dispatch = |d: &Dispatch, f: &dyn Fn()| tracing::dispatcher::with_default(d, f);
    let span = paired::paired(
        |k| in_dispatch(&ours, &|| (0..k).for_each(|_| span_body())),
        |k| in_dispatch(&peer_span, &|| (0..k).for_each(|_| span_body())),
        41,
        2000,
    );
    let compat = paired::paired(
        |k| in_dispatch(&compat_on, &|| (0..k).for_each(|_| compat_span_body())),
        |k| in_dispatch(&peer_span, &|| (0..k).for_each(|_| span_body())),
        41,
        2000,
    );
    let raw_tracer = tp.tracer("raw");
    let raw = paired::paired(
        |k| in_dispatch(&ours, &|| (0..k).for_each(|_| span_body())),
        |k| (0..k).for_each(|_| raw_sdk_body(&raw_tracer)),
        41,
        2000,
    );
    let json = paired::paired(
        |k| {
            in_dispatch(&ours, &|| {
                let _e = tracing::info_span!("job").entered();
                BakerScope::current()
                    .conversation_id("conv-42")
                    .job_id("job-7")
                    .in_scope(|| (0..k).for_each(|_| log_line()));
            })
        },
        |k| {
            in_dispatch(&peer_json, &|| {
                let _e = tracing::info_span!("job", conversation_id = "conv-42", job_id = "job-7")
                    .entered();
                (0..k).for_each(|_| log_line());
            })
        },
        41,
        2000,
    );
    for (name, m) in [
        ("span vs t-o default", span),
        ("span via t-o layer vs t-o default", compat),
        ("span vs raw sdk", raw),
        ("json log line vs fmt json + t-o", json),
    ] {
        println!(
            "paired {name:<36} ours {:>8.1} ns  peer {:>8.1} ns  ratio {:.2}",
            m.ours_ns, m.peer_ns, m.ratio
        );
    }
    paired::write(
        &target_dir(),
        "core",
        &[
            ("span", "ours", "t-o default", span),
            ("span", "ours via t-o layer", "t-o default", compat),
            ("span", "ours", "raw sdk", raw),
            ("json_log", "ours", "fmt json + t-o", json),
        ],
    );
    let _ = t.shutdown();
    let _ = tc.shutdown();
    let _ = tp.shutdown();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_disabled(&mut c);
    bench_span(&mut c);
    bench_json(&mut c);
    c.final_summary();
    // `--profile-time` (a profiler run, e.g. under callgrind) measures nothing to report.
    if !std::env::args().any(|a| a == "--profile-time") {
        report();
        paired_rows();
    }
}
