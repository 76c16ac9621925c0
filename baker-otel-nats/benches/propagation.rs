//! Inject + extract round trip: our `async_nats::HeaderMap` carriers (global propagator,
//! default W3C set → fast path) vs a `HashMap<String, String>` carrier with the SDK's
//! `TextMapCompositePropagator(TraceContext + Baggage)`, same span context and baggage, same run.
//! Two contexts: trace context only (the configuration of the DESIGN §5 baseline) and trace
//! context + the two Baker ids in baggage (what every Baker message carries; both sides then
//! build an `opentelemetry::baggage::Baggage` for the extracted ids, whose key validation alone
//! costs ≈ 4 200 instructions per round trip — a third of ours — and which `cx.baggage()`
//! readers need). Also reports the generic (non-fast-path) carrier path through the SDK
//! propagator.
//!
//! Instruction counts per round trip (stable on a loaded machine, unlike time):
//! `BAKER_PROFILE_ITERS=2000 valgrind --tool=callgrind --toggle-collect='*profile_ours*' <bench
//! binary>` (or `*profile_peer*`), then the inclusive cost of `profile_ours` / 2000.
//! async-nats' `HeaderValue` constructors re-scan a value with a `char` pattern, ≈ 10
//! instructions a byte, the largest cost of an inject after the allocations; our carrier builds
//! values through its `Deserialize` instead (`src/carrier.rs`, `checked_header_value`; measured
//! when introduced).

#[path = "../../baker-otel/benches/support/paired.rs"]
mod paired;

use criterion::{criterion_group, Criterion};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

fn context() -> Context {
    let sc = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    Context::new()
        .with_remote_span_context(sc)
        .with_baggage(vec![
            KeyValue::new("gen_ai.conversation.id", "conv-8f2c1a"),
            KeyValue::new("baker.job.id", "job-42"),
        ])
}

fn sdk() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The hub's propagation (the default W3C trace context + baggage).
fn propagation() -> baker_otel::propagation::Propagation {
    baker_otel::propagation::Propagation::new(&[
        baker_otel::config::PropagatorKind::TraceContext,
        baker_otel::config::PropagatorKind::Baggage,
    ])
}

/// Ours: the hub's propagation (core codec) through an `async_nats::HeaderMap`.
fn ours_round_trip(p: &baker_otel::propagation::Propagation, cx: &Context) {
    let mut headers = async_nats::HeaderMap::new();
    baker_otel_nats::propagation::inject_context(p, black_box(cx), &mut headers);
    let out = baker_otel_nats::propagation::extract(p, Some(&headers));
    black_box(out.span().span_context().span_id());
}

/// Peer: the SDK composite through a `HashMap<String, String>` carrier.
fn peer_round_trip(sdk: &TextMapCompositePropagator, cx: &Context) {
    let mut carrier: HashMap<String, String> = HashMap::new();
    sdk.inject_context(black_box(cx), &mut carrier);
    let out = sdk.extract_with_context(&Context::new(), &carrier);
    black_box(out.span().span_context().span_id());
}

/// `(criterion group, label, context)`: trace context only — the configuration of the DESIGN §5
/// baseline (W3C inject / extract) — and with the two Baker ids in baggage, as every Baker
/// message carries them.
fn cases() -> [(&'static str, &'static str, Context); 2] {
    let cx = context();
    let tc = Context::new().with_remote_span_context(cx.span().span_context().clone());
    [
        ("inject_extract_trace_context", "trace context only", tc),
        (
            "inject_extract_round_trip",
            "with 2 Baker ids in baggage",
            cx,
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let sdk = sdk();
    let p = propagation();
    for (group, _, cx) in cases() {
        let mut g = c.benchmark_group(group);
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        g.bench_function("hashmap_sdk_composite", |b| {
            b.iter(|| peer_round_trip(&sdk, &cx))
        });
        g.bench_function("nats_headermap_baker", |b| {
            b.iter(|| ours_round_trip(&p, &cx))
        });
        if !cx.baggage().is_empty() {
            g.bench_function("nats_headermap_generic_carrier_sdk", |b| {
                b.iter(|| {
                    let mut headers = async_nats::HeaderMap::new();
                    sdk.inject_context(
                        black_box(&cx),
                        &mut baker_otel_nats::HeaderInjector(&mut headers),
                    );
                    let out = sdk.extract_with_context(
                        &Context::new(),
                        &baker_otel_nats::HeaderExtractor(&headers),
                    );
                    black_box(out.span().span_context().span_id());
                })
            });
        }
        g.finish();
    }
}

/// Paired figures for `scripts/bench_summary.py` (which prefers them to criterion's medians).
fn report(_c: &mut Criterion) {
    let sdk = sdk();
    let p = propagation();
    let mut rows = Vec::new();
    for (group, label, cx) in cases() {
        let m = paired::paired(
            |k| (0..k).for_each(|_| ours_round_trip(&p, &cx)),
            |k| (0..k).for_each(|_| peer_round_trip(&sdk, &cx)),
            41,
            2000,
        );
        println!(
            "{label}, paired medians: hashmap+sdk {:.0} ns, baker HeaderMap {:.0} ns, \
             ratio {:.2}x (target <= 0.50x)",
            m.peer_ns, m.ours_ns, m.ratio
        );
        rows.push((group, "nats_headermap_baker", "hashmap_sdk_composite", m));
    }
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "../target".into());
    paired::write(&dir, "nats-propagation", &rows);
}

/// `BAKER_PROFILE_ITERS=n`: runs `n` round trips of each side (no criterion), for
/// `valgrind --tool=callgrind --toggle-collect='*profile_*'` instruction counts per round trip
/// (inclusive cost of `profile_ours` / `profile_peer` divided by `n`).
fn profile(n: u32) {
    let sdk = sdk();
    let p = propagation();
    let [_, (_, _, cx)] = cases();
    // Warm up (thread locals, allocator) outside the collected functions.
    ours_round_trip(&p, &cx);
    peer_round_trip(&sdk, &cx);
    profile_ours(&p, &cx, n);
    profile_peer(&sdk, &cx, n);
}

#[inline(never)]
fn profile_ours(p: &baker_otel::propagation::Propagation, cx: &Context, n: u32) {
    (0..n).for_each(|_| ours_round_trip(p, cx));
}

#[inline(never)]
fn profile_peer(sdk: &TextMapCompositePropagator, cx: &Context, n: u32) {
    (0..n).for_each(|_| peer_round_trip(sdk, cx));
}

criterion_group!(benches, bench, report);

fn main() {
    if let Some(n) = std::env::var("BAKER_PROFILE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return profile(n);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
