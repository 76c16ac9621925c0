//! llm_span! (6 attributes + usage, cost, metrics) vs a hand-written tracing::info_span! with the
//! same fields, under the same baker-otel subscriber; cost lookup + computation; and content
//! redaction of 1 MB of hostile and of ordinary non-ASCII text (security audit 2026-12,
//! finding 2).

#[path = "../../baker-otel/benches/support/paired.rs"]
mod paired;

use baker_otel::config::Signal;
use baker_otel_llm::content::{CapturePolicy, ContentKind, Redactor};
use baker_otel_llm::pricing::Pricing;
use baker_otel_llm::{llm_span, LlmTelemetry, Usage};
use criterion::{criterion_group, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};

const USAGE: Usage = Usage {
    input_tokens: 812,
    output_tokens: 97,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    reasoning_output_tokens: 0,
};

fn hand_written() {
    let span = tracing::info_span!(
        "chat claude-sonnet-4-5",
        otel.kind = "client",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "anthropic",
        gen_ai.request.model = "claude-sonnet-4-5",
        baker.llm.role = "assistant",
        baker.agent.iteration = 3i64,
        gen_ai.request.max_tokens = 1024i64,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        gen_ai.usage.cost.amount = tracing::field::Empty,
        gen_ai.usage.cost.currency = tracing::field::Empty,
    );
    span.record("gen_ai.usage.input_tokens", USAGE.input_tokens);
    span.record("gen_ai.usage.output_tokens", USAGE.output_tokens);
    span.record("gen_ai.usage.cost.amount", 0.0039);
    span.record("gen_ai.usage.cost.currency", "USD");
    drop(span);
}

struct Manual {
    duration: opentelemetry::metrics::Histogram<f64>,
    tokens: opentelemetry::metrics::Histogram<u64>,
    cost: opentelemetry::metrics::Counter<f64>,
}
static MANUAL: std::sync::OnceLock<Manual> = std::sync::OnceLock::new();

/// The hand-written span plus the same four metric records the macro makes.
fn hand_written_with_metrics() {
    use opentelemetry::KeyValue;
    let start = Instant::now();
    hand_written();
    let m = MANUAL.get().expect("set");
    let base = [
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "anthropic"),
        KeyValue::new("gen_ai.request.model", "claude-sonnet-4-5"),
    ];
    m.duration.record(start.elapsed().as_secs_f64(), &base);
    let [a, b, c] = base;
    m.tokens.record(
        USAGE.input_tokens,
        &[
            a.clone(),
            b.clone(),
            c.clone(),
            KeyValue::new("gen_ai.token.type", "input"),
        ],
    );
    m.tokens.record(
        USAGE.output_tokens,
        &[
            a,
            b.clone(),
            c.clone(),
            KeyValue::new("gen_ai.token.type", "output"),
        ],
    );
    m.cost
        .add(0.0039, &[b, c, KeyValue::new("currency", "USD")]);
}

fn macro_span() {
    let span = llm_span!(
        model = "claude-sonnet-4-5",
        provider = "anthropic",
        role = "assistant",
        iteration = 3,
        max_tokens = 1024,
        operation = "chat"
    );
    span.record_usage(USAGE);
    drop(span);
}

/// Installs the baker-otel pipelines (no exporters) and the LLM telemetry; returns a pricing table.
fn setup() -> Pricing {
    let telemetry = baker_otel::Telemetry::builder()
        .service_name("bench")
        .exporters(Signal::Traces, [])
        .exporters(Signal::Logs, [])
        .json_logs(false)
        .init()
        .expect("init");
    LlmTelemetry::builder(&telemetry)
        .preload_model("anthropic", "claude-sonnet-4-5")
        .build()
        .expect("install");
    {
        use opentelemetry::metrics::MeterProvider as _;
        let meter = telemetry.meter_provider().expect("metrics").meter("manual");
        let _ = MANUAL.set(Manual {
            duration: meter
                .f64_histogram("manual.duration")
                .with_unit("s")
                .build(),
            tokens: meter.u64_histogram("manual.tokens").build(),
            cost: meter.f64_counter("manual.cost").build(),
        });
    }
    // Keep the pipelines alive for the whole process.
    std::mem::forget(telemetry);
    Pricing::builder()
        .preload_model("anthropic", "claude-sonnet-4-5")
        .build()
        .unwrap()
}

/// 1 MB of repeated PEM headers without an END marker (quadratic for an unbounded lazy body).
fn hostile_text() -> String {
    "-----BEGIN PRIVATE KEY-----".repeat(40_000)
}

/// 1 MB of ordinary non-ASCII prose (Unicode word boundaries leave the regex DFA on it).
fn non_ascii_text() -> String {
    let line = "Die Größe der Tabelle beträgt 42 Einträge; naïve café — 東京の天気は晴れ。 ";
    line.repeat((1 << 20) / line.len() + 1)
}

/// `CapturePolicy::prepare` with the default settings (all kinds, 8 KiB).
fn prepare(policy: &CapturePolicy, text: &str) -> usize {
    policy
        .prepare(ContentKind::Input, black_box(text))
        .map_or(0, |s| s.len())
}

/// `Redactor::redact` over the whole text (no window: the rules alone).
fn redact_all(r: &Redactor, text: &str) -> usize {
    r.redact(black_box(text)).len()
}

fn benches(c: &mut Criterion) {
    let pricing = setup();
    let mut g = c.benchmark_group("llm_span");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("hand_written_info_span", |b| b.iter(hand_written));
    g.bench_function("hand_written_info_span_plus_same_metrics", |b| {
        b.iter(hand_written_with_metrics)
    });
    g.bench_function("llm_span_macro_6_attrs_usage_cost_metrics", |b| {
        b.iter(macro_span)
    });
    g.finish();

    let mut g = c.benchmark_group("cost");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g.bench_function("lookup_and_compute", |b| {
        b.iter(|| {
            pricing.cost(
                black_box("anthropic"),
                black_box("claude-sonnet-4-5"),
                black_box(&USAGE),
            )
        })
    });
    g.finish();

    let (policy, redactor) = (CapturePolicy::all(), Redactor::default());
    let (hostile, non_ascii) = (hostile_text(), non_ascii_text());
    let mut g = c.benchmark_group("redaction");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    g.bench_function("prepare_1mb_hostile_pem_headers", |b| {
        b.iter(|| prepare(&policy, &hostile))
    });
    g.bench_function("prepare_1mb_non_ascii_text", |b| {
        b.iter(|| prepare(&policy, &non_ascii))
    });
    g.bench_function("redact_all_1mb_hostile_pem_headers", |b| {
        b.iter(|| redact_all(&redactor, &hostile))
    });
    g.bench_function("redact_all_1mb_non_ascii_text", |b| {
        b.iter(|| redact_all(&redactor, &non_ascii))
    });
    g.finish();

    // Paired (alternating rounds): what `scripts/bench` reports, as it survives load drifting
    // between criterion groups.
    let run = |f: fn()| move |k: u32| (0..k).for_each(|_| f());
    let vs_hand = paired::paired(run(macro_span), run(hand_written), 41, 2000);
    let vs_hand_metrics = paired::paired(run(macro_span), run(hand_written_with_metrics), 41, 2000);
    println!(
        "\npaired: llm_span! {:.0} ns vs hand-written {:.0} ns = {:.2}x (target <= 1.1x); \
         vs hand-written + same metrics {:.0} ns = {:.2}x",
        vs_hand.ours_ns,
        vs_hand.peer_ns,
        vs_hand.ratio,
        vs_hand_metrics.peer_ns,
        vs_hand_metrics.ratio
    );
    const MACRO: &str = "llm_span_macro_6_attrs_usage_cost_metrics";
    paired::write(
        &target_dir(),
        "llm",
        &[
            ("llm_span", MACRO, "hand_written_info_span", vs_hand),
            (
                "llm_span",
                MACRO,
                "hand_written_info_span_plus_same_metrics",
                vs_hand_metrics,
            ),
        ],
    );
}

fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned())
}

/// Criterion median (ns). Criterion writes under `$CARGO_TARGET_DIR/criterion` or, by default,
/// `<crate>/target/criterion`.
fn median(group: &str, id: &str) -> Option<f64> {
    [
        format!("{}/criterion", target_dir()),
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/criterion").to_owned(),
    ]
    .iter()
    .find_map(|d| std::fs::read_to_string(format!("{d}/{group}/{id}/new/estimates.json")).ok())
    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    .and_then(|v| v["median"]["point_estimate"].as_f64())
}

/// Ratios from the criterion medians of this run; writes `target/bench-llm.json`.
fn report() {
    let (Some(macro_ns), Some(hand_ns), Some(hand_with_metrics_ns), Some(cost_ns)) = (
        median("llm_span", "llm_span_macro_6_attrs_usage_cost_metrics"),
        median("llm_span", "hand_written_info_span"),
        median("llm_span", "hand_written_info_span_plus_same_metrics"),
        median("cost", "lookup_and_compute"),
    ) else {
        println!("criterion estimates not found (filtered run?)");
        return;
    };
    println!(
        "\nRATIO llm_span!/hand-written info_span! = {:.2}x ({macro_ns:.0} ns vs {hand_ns:.0} ns; target <= 1.1x)",
        macro_ns / hand_ns
    );
    println!(
        "RATIO llm_span!/hand-written info_span! + same metrics = {:.2}x ({hand_with_metrics_ns:.0} ns)",
        macro_ns / hand_with_metrics_ns
    );
    println!("COST lookup+compute = {cost_ns:.1} ns median (target <= 200 ns)");
    let json = serde_json::json!({
        "macro_ns": macro_ns,
        "hand_ns": hand_ns,
        "hand_with_metrics_ns": hand_with_metrics_ns,
        "cost_ns": cost_ns,
        "ratio_vs_hand": macro_ns / hand_ns,
        "ratio_vs_hand_with_metrics": macro_ns / hand_with_metrics_ns,
        "bound_instruments": cfg!(feature = "bound-instruments"),
    });
    // The `bound-instruments` build reports separately so both can be compared.
    let file = if cfg!(feature = "bound-instruments") {
        "bench-llm-bound.json"
    } else {
        "bench-llm.json"
    };
    let path = format!("{}/{file}", target_dir());
    match std::fs::write(&path, json.to_string()) {
        Ok(()) => println!("wrote {path}"),
        Err(e) => println!("could not write {path}: {e}"),
    }
}

criterion_group!(group, benches);

fn main() {
    // `LLM_BENCH_ONLY=macro|hand|hand_metrics|cost|prepare_hostile|prepare_non_ascii|
    // redact_hostile|redact_non_ascii LLM_BENCH_ITERS=n`: run one case n times
    // without criterion (for `perf stat -e instructions`, which the machine's load does not skew).
    if let Ok(which) = std::env::var("LLM_BENCH_ONLY") {
        let n: u32 = std::env::var("LLM_BENCH_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let pricing = setup();
        let f: Box<dyn Fn()> = match which.as_str() {
            "macro" => Box::new(macro_span),
            "hand" => Box::new(hand_written),
            "hand_metrics" => Box::new(hand_written_with_metrics),
            "cost" => Box::new(move || {
                black_box(pricing.cost(
                    black_box("anthropic"),
                    black_box("claude-sonnet-4-5"),
                    black_box(&USAGE),
                ));
            }),
            "prepare_hostile" | "prepare_non_ascii" | "redact_hostile" | "redact_non_ascii" => {
                let text = if which.ends_with("hostile") {
                    hostile_text()
                } else {
                    non_ascii_text()
                };
                let (policy, redactor) = (CapturePolicy::all(), Redactor::default());
                let full = which.starts_with("redact");
                Box::new(move || {
                    black_box(if full {
                        redact_all(&redactor, &text)
                    } else {
                        prepare(&policy, &text)
                    });
                })
            }
            _ => Box::new(|| {}),
        };
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        println!(
            "{which}: {:.0} ns/iter",
            t.elapsed().as_nanos() as f64 / f64::from(n)
        );
        return;
    }
    group();
    Criterion::default().configure_from_args().final_summary();
    report();
}
