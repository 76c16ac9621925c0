//! Inject + extract round trip: our `async_nats::HeaderMap` carriers (global propagator,
//! default W3C set → fast path) vs a `HashMap<String, String>` carrier with the SDK's
//! `TextMapCompositePropagator(TraceContext + Baggage)`, same span context and baggage, same run.
//! Also reports the generic (non-fast-path) carrier path through the SDK propagator.

use criterion::{criterion_group, criterion_main, Criterion};
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

fn bench(c: &mut Criterion) {
    baker_otel::propagation::install(&[
        baker_otel::config::PropagatorKind::TraceContext,
        baker_otel::config::PropagatorKind::Baggage,
    ]);
    assert!(baker_otel_nats::propagation::fast_path_active());
    let cx = context();
    let sdk = sdk();

    let mut g = c.benchmark_group("inject_extract_round_trip");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("hashmap_sdk_composite", |b| {
        b.iter(|| {
            let mut carrier: HashMap<String, String> = HashMap::new();
            sdk.inject_context(black_box(&cx), &mut carrier);
            let out = sdk.extract_with_context(&Context::new(), &carrier);
            black_box(out.span().span_context().span_id());
        })
    });
    g.bench_function("nats_headermap_baker", |b| {
        b.iter(|| {
            let mut headers = async_nats::HeaderMap::new();
            baker_otel_nats::propagation::inject_context(black_box(&cx), &mut headers);
            let out = baker_otel_nats::propagation::extract(Some(&headers));
            black_box(out.span().span_context().span_id());
        })
    });
    g.bench_function("nats_headermap_generic_carrier_sdk", |b| {
        b.iter(|| {
            let mut headers = async_nats::HeaderMap::new();
            sdk.inject_context(
                black_box(&cx),
                &mut baker_otel_nats::HeaderInjector(&mut headers),
            );
            let out = sdk
                .extract_with_context(&Context::new(), &baker_otel_nats::HeaderExtractor(&headers));
            black_box(out.span().span_context().span_id());
        })
    });
    g.finish();
}

fn report(_c: &mut Criterion) {
    // Ratios from criterion's saved estimates of this run.
    let read = |name: &str| -> Option<f64> {
        let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "../target".into());
        let p = format!("{dir}/criterion/inject_extract_round_trip/{name}/new/estimates.json");
        let s = std::fs::read_to_string(p).ok()?;
        let v: serde_json::Value = serde_json::from_str(&s).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    if let (Some(base), Some(ours), generic) = (
        read("hashmap_sdk_composite"),
        read("nats_headermap_baker"),
        read("nats_headermap_generic_carrier_sdk"),
    ) {
        println!("\nround trip median: hashmap+sdk {base:.0} ns, baker HeaderMap {ours:.0} ns, ratio {:.2}x (target <= 0.50x)", ours / base);
        if let Some(g) = generic {
            println!(
                "generic HeaderMap carrier + sdk composite: {g:.0} ns, ratio {:.2}x",
                g / base
            );
        }
    }
}

criterion_group!(benches, bench, report);
criterion_main!(benches);
