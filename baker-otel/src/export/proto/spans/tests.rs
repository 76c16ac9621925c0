//! The encoder's bytes against `opentelemetry-proto`'s transform + prost, byte for byte.

use super::TraceEncoder;
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use proptest::prelude::*;
use prost::Message;
use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

/// What the upstream exporter would send for `spans`.
fn upstream(spans: &[SpanData], resource: &Resource) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans.to_vec(), &resource.into()),
    }
    .encode_to_vec()
}

fn assert_same(spans: &[SpanData], resource: &Resource) {
    let ours = TraceEncoder::new(resource).encode(spans);
    let theirs = upstream(spans, resource);
    if ours != theirs {
        // Decode both for a readable difference.
        let a = ExportTraceServiceRequest::decode(&ours[..]);
        let b = ExportTraceServiceRequest::decode(&theirs[..]).unwrap();
        panic!("encodings differ:\nours   {a:#?}\nupstream {b:#?}");
    }
}

fn ctx(t: u128, s: u64, flags: u8, remote: bool, ts: &TraceState) -> SpanContext {
    SpanContext::new(
        TraceId::from(t),
        SpanId::from(s),
        TraceFlags::new(flags),
        remote,
        ts.clone(),
    )
}

fn span(name: impl Into<Cow<'static, str>>, scope: &InstrumentationScope) -> SpanData {
    let at = |ns| UNIX_EPOCH + Duration::from_nanos(ns);
    SpanData {
        span_context: ctx(7, 9, 1, false, &TraceState::NONE),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: name.into(),
        start_time: at(1_700_000_000_000_000_001),
        end_time: at(1_700_000_000_000_900_000),
        attributes: vec![],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope.clone(),
    }
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "brain"),
            KeyValue::new("service.instance.id", "pod-1"),
        ])
        .build()
}

#[test]
fn every_field_kind_is_encoded_as_upstream_does() {
    let plain = InstrumentationScope::builder("baker-otel").build();
    let full = InstrumentationScope::builder("baker-otel-llm")
        .with_version("0.3.0")
        .with_schema_url("https://opentelemetry.io/schemas/1.41.0")
        .with_attributes([KeyValue::new("scope.attr", true)])
        .build();
    let state = TraceState::from_key_value([("vendor", "x1")]).unwrap();

    let mut a = span("llm.chat gpt-4o", &plain);
    a.span_kind = SpanKind::Client;
    a.parent_span_id = SpanId::from(3);
    a.parent_span_is_remote = true;
    a.span_context = ctx(u128::MAX, u64::MAX, 1, true, &state);
    a.attributes = vec![
        KeyValue::new("s", "text"),
        KeyValue::new("empty", ""),
        KeyValue::new("i", -5_i64),
        KeyValue::new("zero", 0_i64),
        KeyValue::new("big", i64::MAX),
        KeyValue::new("f", 0.5),
        KeyValue::new("fz", 0.0),
        KeyValue::new("b", false),
        KeyValue::new("t", true),
        KeyValue::new("", "empty key"),
        KeyValue::new("ab", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("ai", Value::Array(Array::I64(vec![0, -1, 300]))),
        KeyValue::new("af", Value::Array(Array::F64(vec![1.5, -0.0]))),
        KeyValue::new(
            "as",
            Value::Array(Array::String(vec![StringValue::from(""), "x".into()])),
        ),
        KeyValue::new("ae", Value::Array(Array::I64(vec![]))),
        KeyValue::new("long", "é".repeat(200)),
    ];
    a.dropped_attributes_count = 3;
    a.events.events = vec![
        Event::new(
            "exception",
            UNIX_EPOCH + Duration::from_secs(5),
            vec![KeyValue::new("exception.message", "boom")],
            2,
        ),
        Event::new("", UNIX_EPOCH, vec![], 0),
    ];
    a.events.dropped_count = 4;
    a.links.links = vec![
        Link::new(ctx(1, 2, 0, true, &state), vec![KeyValue::new("k", 1)], 1),
        Link::new(ctx(5, 6, 1, false, &TraceState::NONE), vec![], 0),
    ];
    a.links.dropped_count = 5;
    a.status = Status::error("rate limited");

    let mut b = span("tool search", &full);
    b.span_kind = SpanKind::Producer;
    b.status = Status::Ok;
    b.span_context = ctx(1, 1, 0, false, &TraceState::NONE);
    let mut c = span(String::from("consume"), &plain);
    c.span_kind = SpanKind::Consumer;
    c.status = Status::error("");
    c.start_time = UNIX_EPOCH;
    c.end_time = UNIX_EPOCH - Duration::from_secs(1);
    let mut d = span("", &full);
    d.span_kind = SpanKind::Server;

    assert_same(&[a, b, c, d], &resource());
    let schema = Resource::builder_empty()
        .with_schema_url([KeyValue::new("service.name", "w")], "https://x/1.0")
        .build();
    assert_same(&[span("one", &plain)], &schema);
    assert_same(&[], &resource());
}

#[test]
fn boxed_spans_encode_like_owned_ones() {
    let scope = InstrumentationScope::builder("s").build();
    let spans = vec![span("a", &scope), span("b", &scope)];
    let boxed: Vec<Box<SpanData>> = spans.iter().cloned().map(Box::new).collect();
    let e = TraceEncoder::new(&resource());
    assert_eq!(e.encode(&boxed), e.encode(&spans));
}

fn any_value() -> impl Strategy<Value = Value> {
    let s = || "\\PC{0,12}".prop_map(StringValue::from);
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        any::<f64>().prop_map(Value::F64),
        s().prop_map(Value::String),
        prop::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(Array::I64(v))),
        prop::collection::vec(any::<bool>(), 0..4).prop_map(|v| Value::Array(Array::Bool(v))),
        prop::collection::vec(any::<f64>(), 0..4).prop_map(|v| Value::Array(Array::F64(v))),
        prop::collection::vec(s(), 0..4).prop_map(|v| Value::Array(Array::String(v))),
    ]
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(
        ("[a-z.]{0,10}", any_value()).prop_map(|(k, v)| KeyValue::new(k, v)),
        0..6,
    )
}

prop_compose! {
    fn arb_span()(
        name in "\\PC{0,20}",
        ids in (any::<u128>(), any::<u64>(), any::<u8>(), any::<bool>(), any::<u64>(), any::<bool>()),
        kind in 0..5u8,
        times in (any::<u64>(), any::<u64>()),
        attributes in attrs(),
        counts in (any::<u32>(), any::<u32>(), any::<u32>()),
        events in prop::collection::vec(("\\PC{0,8}", any::<u64>(), attrs(), any::<u32>()), 0..3),
        links in prop::collection::vec((any::<u128>(), any::<u64>(), any::<bool>(), attrs(), any::<u32>()), 0..3),
        status in (0..3u8, "\\PC{0,10}"),
        scope in 0..3usize,
    ) -> SpanData {
        let scopes = [
            InstrumentationScope::builder("a").build(),
            InstrumentationScope::builder("b").with_version("1").build(),
            InstrumentationScope::builder("c").with_schema_url("https://s").build(),
        ];
        let state = TraceState::from_key_value([("k", "v")]).unwrap();
        let (t, s, f, remote, parent, parent_remote) = ids;
        let mut d = span(name, &scopes[scope]);
        d.span_context = ctx(t, s, f, remote, if remote { &state } else { &TraceState::NONE });
        d.parent_span_id = SpanId::from(parent);
        d.parent_span_is_remote = parent_remote;
        d.span_kind = [SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer][kind as usize].clone();
        d.start_time = UNIX_EPOCH + Duration::from_nanos(times.0);
        d.end_time = UNIX_EPOCH + Duration::from_nanos(times.1);
        d.attributes = attributes;
        d.dropped_attributes_count = counts.0;
        d.events.events = events
            .into_iter()
            .map(|(n, t, a, dr)| Event::new(n, UNIX_EPOCH + Duration::from_nanos(t), a, dr))
            .collect();
        d.events.dropped_count = counts.1;
        d.links.links = links
            .into_iter()
            .map(|(t, s, r, a, dr)| Link::new(ctx(t, s, 1, r, &state), a, dr))
            .collect();
        d.links.dropped_count = counts.2;
        d.status = match status.0 {
            0 => Status::Unset,
            1 => Status::Ok,
            _ => Status::error(status.1),
        };
        d
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_batches_encode_as_upstream_does(spans in prop::collection::vec(arb_span(), 0..8)) {
        // One resource for both sides: its attributes live in a hash map.
        let r = resource();
        let ours = TraceEncoder::new(&r).encode(&spans);
        prop_assert_eq!(ours, upstream(&spans, &r));
    }
}
