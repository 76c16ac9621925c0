//! Extractor robustness on arbitrary header maps, and W3C interop with every propagator
//! configuration a hub can have.

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;
use baker_otel::config::PropagatorKind;
use baker_otel::propagation::Propagation;
use baker_otel_nats::propagation::{extract, inject_context};
use baker_otel_nats::HeaderExtractor;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use proptest::prelude::*;
use std::str::FromStr;

fn map(entries: &[(String, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in entries {
        if let (Ok(k), Ok(v)) = (HeaderName::from_str(k), HeaderValue::from_str(v)) {
            h.append(k, v);
        }
    }
    h
}

fn w3c_example() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    h.insert("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    h
}

fn w3c() -> Propagation {
    Propagation::new(&[PropagatorKind::TraceContext, PropagatorKind::Baggage])
}

fn check_w3c_example_roundtrip(p: &Propagation) {
    let cx = extract(p, Some(&w3c_example()));
    let span = cx.span();
    let sc = span.span_context();
    assert_eq!(
        sc.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
    assert!(sc.is_sampled());
    assert_eq!(
        sc.trace_state().header(),
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    );
    let mut out = HeaderMap::new();
    inject_context(p, &cx, &mut out);
    assert_eq!(
        out.get("traceparent").unwrap().as_str(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(
        out.get("tracestate").unwrap().as_str(),
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    );
}

#[test]
fn w3c_spec_example_interop_with_every_configuration() {
    for kinds in [
        &[PropagatorKind::TraceContext, PropagatorKind::Baggage][..],
        &[PropagatorKind::Baggage, PropagatorKind::TraceContext][..],
        &[PropagatorKind::TraceContext][..],
    ] {
        check_w3c_example_roundtrip(&Propagation::new(kinds));
    }
    // `none`: nothing is propagated.
    assert!(!extract(&Propagation::new(&[]), Some(&w3c_example())).has_active_span());
    // Baggage only: the span context is neither read nor written.
    assert!(!extract(
        &Propagation::new(&[PropagatorKind::Baggage]),
        Some(&w3c_example())
    )
    .has_active_span());
}

proptest! {
    #[test]
    fn extractor_never_panics_on_arbitrary_maps(
        entries in proptest::collection::vec((".{0,16}", ".{0,64}"), 0..12),
        key in ".{0,16}",
    ) {
        let h = map(&entries);
        let ex = HeaderExtractor(&h);
        let _ = ex.get(&key);
        let _ = ex.keys();
        let cx = extract(&w3c(), Some(&h));
        // A span is only ever extracted from a single, well-formed traceparent.
        if cx.has_active_span() {
            let tp = ex.get("traceparent").expect("span came from a traceparent");
            prop_assert!(tp.trim().split('-').nth(1).is_some_and(|t| t == cx.span().span_context().trace_id().to_string()));
        }
    }

    #[test]
    fn extractor_finds_valid_traceparent_among_noise(
        noise in proptest::collection::vec(("[a-zA-Z0-9-]{1,12}", "[ -~]{0,40}"), 0..8),
        trace in 1u128.., span in 1u64..,
    ) {
        let mut entries: Vec<_> = noise.into_iter().filter(|(k, _)| !k.eq_ignore_ascii_case("traceparent") && !k.eq_ignore_ascii_case("tracestate")).collect();
        entries.push(("traceparent".into(), format!("00-{trace:032x}-{span:016x}-01")));
        let cx = extract(&w3c(), Some(&map(&entries)));
        prop_assert_eq!(cx.span().span_context().span_id().to_string(), format!("{span:016x}"));
    }
}
