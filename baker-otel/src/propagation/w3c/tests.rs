use super::super::{Propagation, PropagatorKind};
use super::*;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use proptest::prelude::*;
use std::collections::HashMap;
use std::str::FromStr;

fn sdk() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

fn ours() -> Propagation {
    Propagation::new(&[PropagatorKind::TraceContext, PropagatorKind::Baggage])
}

fn same(a: &Context, b: &Context) -> bool {
    let bag = |c: &Context| {
        c.baggage()
            .iter()
            .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
            .collect::<std::collections::BTreeSet<_>>()
    };
    a.span().span_context() == b.span().span_context() && bag(a) == bag(b)
}

fn carrier(tp: Option<&str>, ts: Option<&str>, bg: Option<&str>) -> HashMap<String, String> {
    let mut h = HashMap::new();
    for (k, v) in [("traceparent", tp), ("tracestate", ts), ("baggage", bg)] {
        if let Some(v) = v {
            h.insert(k.to_owned(), v.to_owned());
        }
    }
    h
}

fn check_extract(h: &HashMap<String, String>) -> Result<(), TestCaseError> {
    let a = ours().extract_with_context(&Context::new(), h);
    let b = sdk().extract_with_context(&Context::new(), h);
    prop_assert!(same(&a, &b), "carrier {h:?}");
    Ok(())
}

#[test]
fn w3c_spec_examples() {
    let h = carrier(
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        None,
    );
    let cx = ours().extract_with_context(&Context::new(), &h);
    let span = cx.span();
    let sc = span.span_context();
    assert_eq!(
        sc.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert!(sc.is_sampled() && sc.is_remote());
    let mut out: HashMap<String, String> = HashMap::new();
    ours().inject_context(&cx, &mut out);
    assert_eq!(out["traceparent"], h["traceparent"]);
    assert_eq!(out["tracestate"], h["tracestate"]);
}

#[test]
fn inject_matches_sdk() {
    let sc = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::new(0xff),
        false,
        TraceState::from_str("foo=bar").unwrap(),
    );
    let cx = Context::new()
        .with_remote_span_context(sc)
        .with_baggage(vec![
            KeyValueMetadata::new("gen_ai.conversation.id", "c 1,é=;\"", "prop=1"),
            KeyValueMetadata::new("baker.job.id", "j-7", ""),
        ]);
    let mut a: HashMap<String, String> = HashMap::new();
    ours().inject_context(&cx, &mut a);
    let mut b: HashMap<String, String> = HashMap::new();
    sdk().inject_context(&cx, &mut b);
    assert_eq!(a, b);
}

#[test]
fn extract_matches_sdk_on_edge_cases() {
    for tp in [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
        "02-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-XYZ",
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "garbage",
    ] {
        for bg in [
            None,
            Some("a=1,b = 2 ,c"),
            Some("a=b=c"),
            Some("k=v%2C;p"),
            Some(",,=,"),
        ] {
            check_extract(&carrier(Some(tp), Some("rojo=1,congo=2"), bg)).unwrap();
        }
    }
}

#[test]
fn contains_either_finds_every_offset() {
    for len in 0..40 {
        let clean = "ab=cd,".repeat(7)[..len].to_owned().into_bytes();
        assert!(!contains_either(&clean, b'%', b';'));
        for at in 0..len {
            for c in [b'%', b';'] {
                let mut s = clean.clone();
                s[at] = c;
                assert!(contains_either(&s, b'%', b';'), "{len} {at}");
            }
        }
    }
    assert!(!contains_either(
        &[0x24, 0x26, 0xa5, 0x3a, 0x3c, 0xbb, 0, 0xff, 0x25 ^ 0x80],
        b'%',
        b';'
    ));
}

proptest! {
    #[test]
    fn extract_is_sdk_equivalent(
        tp in prop_oneof![
            "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}",
            "[0-9a-fA-F+ -]{0,60}",
            ".{0,80}",
        ],
        ts in proptest::option::of("[a-z0-9=,@ ]{0,40}"),
        bg in proptest::option::of(prop_oneof!["[a-z0-9=, .]{0,60}", ".{0,60}"]),
    ) {
        check_extract(&carrier(Some(&tp), ts.as_deref(), bg.as_deref()))?;
    }

    #[test]
    fn inject_is_sdk_equivalent(k in "[a-z.]{1,12}", v in ".{0,24}", trace in 1u128.., span in 1u64.., flags: u8) {
        let sc = SpanContext::new(TraceId::from(trace), SpanId::from(span), TraceFlags::new(flags), false, TraceState::default());
        let cx = Context::new().with_remote_span_context(sc).with_baggage(vec![KeyValue::new(k, v)]);
        let mut a: HashMap<String, String> = HashMap::new();
        ours().inject_context(&cx, &mut a);
        let mut b: HashMap<String, String> = HashMap::new();
        sdk().inject_context(&cx, &mut b);
        for key in ["traceparent", "baggage"] {
            prop_assert_eq!(a.get(key), b.get(key));
        }
    }
}
