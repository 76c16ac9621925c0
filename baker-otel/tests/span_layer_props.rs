//! Property test of the span layer: any sequence of creating, entering, exiting, recording,
//! re-parenting, linking, taking the context of and ending `tracing` spans never panics, and what
//! is exported is consistent — each span exported once, with its parent's trace id.
use baker_otel::OpenTelemetrySpanExt;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::SpanData;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use tracing::field::Empty;

#[path = "support/span_sink.rs"]
mod span_sink;

#[derive(Debug, Clone)]
enum Op {
    /// A span under the current one, or with an explicit parent (index), or a root.
    New(Option<usize>, bool),
    Enter(usize),
    Exit,
    Record(usize, i64),
    SetParent(usize, bool),
    Context(usize),
    Link(usize, usize),
    FollowsFrom(usize, usize),
    EndViaContext(usize),
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (proptest::option::of(0usize..8), any::<bool>()).prop_map(|(p, r)| Op::New(p, r)),
        2 => (0usize..8).prop_map(Op::Enter),
        2 => Just(Op::Exit),
        1 => (0usize..8, any::<i64>()).prop_map(|(i, v)| Op::Record(i, v)),
        1 => (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::SetParent(i, s)),
        1 => (0usize..8).prop_map(Op::Context),
        1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Op::Link(a, b)),
        1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Op::FollowsFrom(a, b)),
        1 => (0usize..8).prop_map(Op::EndViaContext),
        2 => (0usize..8).prop_map(Op::Drop),
    ]
}

fn remote(sampled: bool) -> opentelemetry::Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
        SpanId::from(0xb7ad_6b71_6920_3331_u64),
        flags,
        true,
        TraceState::default(),
    ))
}

fn run(ops: &[Op]) -> (Vec<SpanData>, usize) {
    let (telemetry, dispatch, sink) = span_sink::pipeline(&[("OTEL_BSP_MAX_QUEUE_SIZE", "4096")]);
    let mut created = 0;
    tracing::dispatcher::with_default(&dispatch, || {
        let mut spans: Vec<Option<tracing::Span>> = Vec::new();
        let mut entered: Vec<tracing::span::EnteredSpan> = Vec::new();
        let get = |spans: &Vec<Option<tracing::Span>>, i: usize| {
            (!spans.is_empty())
                .then(|| spans[i % spans.len()].clone())
                .flatten()
        };
        for op in ops {
            match op {
                Op::New(parent, root) => {
                    let span = match (parent.and_then(|p| get(&spans, p)), root) {
                        (Some(p), _) => tracing::info_span!(parent: &p, "child", n = Empty),
                        (None, true) => tracing::info_span!(parent: None, "root", n = Empty),
                        (None, false) => tracing::info_span!("current", n = Empty),
                    };
                    created += 1;
                    spans.push(Some(span));
                }
                Op::Enter(i) => {
                    if let Some(s) = get(&spans, *i) {
                        entered.push(s.entered());
                    }
                }
                Op::Exit => drop(entered.pop()),
                Op::Record(i, v) => {
                    if let Some(s) = get(&spans, *i) {
                        s.record("n", v);
                    }
                }
                Op::SetParent(i, sampled) => {
                    if let Some(s) = get(&spans, *i) {
                        let _ = s.set_parent(remote(*sampled));
                    }
                }
                Op::Context(i) => {
                    if let Some(s) = get(&spans, *i) {
                        assert!(s.context().span().span_context().is_valid());
                    }
                }
                Op::Link(a, b) => {
                    if let (Some(a), Some(b)) = (get(&spans, *a), get(&spans, *b)) {
                        a.add_link(b.context().span().span_context().clone());
                    }
                }
                Op::FollowsFrom(a, b) => {
                    if let (Some(a), Some(b)) = (get(&spans, *a), get(&spans, *b)) {
                        a.follows_from(&b);
                    }
                }
                Op::EndViaContext(i) => {
                    if let Some(s) = get(&spans, *i) {
                        s.context().span().end();
                    }
                }
                Op::Drop(i) => {
                    if !spans.is_empty() {
                        let n = spans.len();
                        spans[*i % n] = None;
                    }
                }
            }
        }
        while entered.pop().is_some() {}
    });
    telemetry.force_flush().expect("flush");
    telemetry.shutdown().expect("shutdown");
    let exported = sink.0.lock().unwrap().clone();
    (exported, created)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_exports_each_span_once_in_its_parents_trace(
        ops in proptest::collection::vec(op(), 1..48)
    ) {
        let (spans, created) = run(&ops);
        prop_assert!(spans.len() <= created);
        let mut ids = HashSet::new();
        for s in &spans {
            prop_assert!(s.span_context.is_valid());
            prop_assert!(s.span_context.is_sampled());
            prop_assert!(ids.insert(s.span_context.span_id()), "exported twice: {:?}", s.name);
            prop_assert!(s.end_time >= s.start_time);
        }
        let by_id: HashMap<SpanId, &SpanData> =
            spans.iter().map(|s| (s.span_context.span_id(), s)).collect();
        for s in &spans {
            if let Some(parent) = by_id.get(&s.parent_span_id) {
                prop_assert_eq!(parent.span_context.trace_id(), s.span_context.trace_id());
            }
        }
        // Without an unsampled remote parent every span is sampled (parent-based, always on)
        // and exported.
        if !ops.iter().any(|o| matches!(o, Op::SetParent(_, false))) {
            prop_assert_eq!(spans.len(), created);
        }
    }
}
