//! The log encoder against `opentelemetry-proto`'s transform + prost.
//!
//! The transform groups scopes through a `HashMap`, so its scope order varies from run to run:
//! batches of one scope compare byte for byte, mixed batches as decoded messages with the
//! scopes sorted by name.

use super::LogEncoder;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, Key, KeyValue};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use proptest::prelude::*;
use prost::Message;
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

type Item = (SdkLogRecord, InstrumentationScope);

fn upstream(items: &[Item], resource: &Resource) -> ExportLogsServiceRequest {
    let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
        items.iter().map(|(r, s)| (r, s)).collect();
    ExportLogsServiceRequest {
        resource_logs: group_logs_by_resource_and_scope(&LogBatch::new(&refs), &resource.into()),
    }
}

fn sorted(mut r: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
    for rl in &mut r.resource_logs {
        let key = |s: &opentelemetry_proto::tonic::logs::v1::ScopeLogs| {
            s.scope
                .as_ref()
                .map(|s| (s.name.clone(), s.version.clone()))
        };
        rl.scope_logs.sort_by_key(key);
    }
    r
}

fn assert_same(items: &[Item], resource: &Resource) {
    let ours = LogEncoder::new(resource).encode(items);
    let theirs = upstream(items, resource);
    let one_scope = theirs.resource_logs[0].scope_logs.len() <= 1;
    if one_scope {
        assert_eq!(ours, theirs.encode_to_vec(), "byte for byte");
    }
    let decoded = ExportLogsServiceRequest::decode(&ours[..]).expect("valid protobuf");
    assert_eq!(sorted(decoded), sorted(theirs));
}

fn record() -> SdkLogRecord {
    let provider = SdkLoggerProvider::builder().build();
    let mut r = provider.logger("test").create_log_record();
    r.set_observed_timestamp(UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789));
    r
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([KeyValue::new("service.name", "worker")])
        .build()
}

#[test]
fn every_field_kind_is_encoded_as_upstream_does() {
    let scope = InstrumentationScope::builder("baker-otel")
        .with_version("0.3.0")
        .with_schema_url("https://opentelemetry.io/schemas/1.41.0")
        .with_attributes([KeyValue::new("a", 1)])
        .build();
    let mut full = record();
    full.set_timestamp(UNIX_EPOCH + Duration::from_secs(9));
    full.set_severity_number(Severity::Warn2);
    full.set_severity_text("WARN");
    full.set_body(AnyValue::from("job finished"));
    full.set_event_name("llm.done");
    full.set_target("worker::jobs");
    full.set_trace_context(
        TraceId::from(u128::MAX),
        SpanId::from(7),
        Some(TraceFlags::SAMPLED),
    );
    let map: HashMap<Key, AnyValue> = [
        (Key::from("k"), AnyValue::Int(1)),
        (Key::from(""), AnyValue::String("".into())),
    ]
    .into_iter()
    .collect();
    full.add_attributes([
        (Key::from("int"), AnyValue::Int(-3)),
        (Key::from("zero"), AnyValue::Int(0)),
        (Key::from("f"), AnyValue::Double(0.25)),
        (Key::from("b"), AnyValue::Boolean(false)),
        (Key::from("s"), AnyValue::String("é".repeat(50).into())),
        (
            Key::from("bytes"),
            AnyValue::Bytes(Box::new(vec![0, 1, 255])),
        ),
        (Key::from("empty bytes"), AnyValue::Bytes(Box::default())),
        (
            Key::from("list"),
            AnyValue::ListAny(Box::new(vec![
                AnyValue::Int(1),
                AnyValue::ListAny(Box::default()),
                AnyValue::Map(Box::new(map.clone())),
            ])),
        ),
        (Key::from("map"), AnyValue::Map(Box::new(map))),
    ]);
    let mut bare = record();
    bare.set_body(AnyValue::Int(0));
    let mut unsampled = record();
    unsampled.set_target("worker::jobs");
    unsampled.set_trace_context(TraceId::from(1), SpanId::from(2), None);
    let plain = InstrumentationScope::builder("baker-otel").build();

    assert_same(
        &[(full.clone(), scope.clone()), (unsampled, scope.clone())],
        &resource(),
    );
    assert_same(&[(bare.clone(), plain.clone())], &resource());
    assert_same(
        &[
            (full, scope.clone()),
            (bare.clone(), plain.clone()),
            (bare, scope),
            (record(), plain),
        ],
        &resource(),
    );
}

fn any_value(depth: u32) -> BoxedStrategy<AnyValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(AnyValue::Int),
        (-1e12..1e12f64).prop_map(AnyValue::Double),
        "\\PC{0,10}".prop_map(|s| AnyValue::String(s.into())),
        any::<bool>().prop_map(AnyValue::Boolean),
        prop::collection::vec(any::<u8>(), 0..5).prop_map(|b| AnyValue::Bytes(Box::new(b))),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        4 => leaf,
        1 => prop::collection::vec(any_value(depth - 1), 0..3)
            .prop_map(|v| AnyValue::ListAny(Box::new(v))),
        1 => prop::collection::hash_map("[a-z]{0,4}", any_value(depth - 1), 0..3)
            .prop_map(|m| AnyValue::Map(Box::new(m.into_iter().map(|(k, v)| (Key::from(k), v)).collect()))),
    ]
    .boxed()
}

prop_compose! {
    fn arb_item()(
        times in (any::<Option<u64>>(), any::<u64>()),
        sev in 0..25u8,
        text in any::<Option<bool>>(),
        body in prop::option::of(any_value(2)),
        attrs in prop::collection::vec(("[a-z.]{0,8}", any_value(2)), 0..5),
        ctx in prop::option::of((any::<u128>(), any::<u64>(), any::<Option<u8>>())),
        target in prop::option::of(0..3usize),
        event in any::<bool>(),
        scope in 0..2usize,
    ) -> Item {
        const SEV: [Severity; 6] = [Severity::Trace, Severity::Debug, Severity::Info, Severity::Warn, Severity::Error, Severity::Fatal4];
        let mut r = record();
        if let Some(t) = times.0 { r.set_timestamp(UNIX_EPOCH + Duration::from_nanos(t)); }
        r.set_observed_timestamp(UNIX_EPOCH + Duration::from_nanos(times.1));
        if sev > 0 { r.set_severity_number(SEV[usize::from(sev) % SEV.len()]); }
        if let Some(t) = text { r.set_severity_text(if t { "INFO" } else { "" }); }
        if let Some(b) = body { r.set_body(b); }
        r.add_attributes(attrs.into_iter().map(|(k, v)| (Key::from(k), v)));
        if let Some((t, s, f)) = ctx { r.set_trace_context(TraceId::from(t), SpanId::from(s), f.map(TraceFlags::new)); }
        if let Some(t) = target { r.set_target(["a::b", "c", ""][t]); }
        if event { r.set_event_name("evt"); }
        let scopes = [
            InstrumentationScope::builder("baker-otel").build(),
            InstrumentationScope::builder("other").with_version("2").build(),
        ];
        (r, scopes[scope].clone())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_batches_encode_as_upstream_does(items in prop::collection::vec(arb_item(), 0..6)) {
        // One resource for both sides: its attributes live in a hash map.
        let r = resource();
        let ours = LogEncoder::new(&r).encode(&items);
        let theirs = upstream(&items, &r);
        let decoded = ExportLogsServiceRequest::decode(&ours[..]).expect("valid protobuf");
        if theirs.resource_logs[0].scope_logs.len() <= 1 {
            prop_assert_eq!(&ours, &theirs.encode_to_vec());
        }
        prop_assert_eq!(sorted(decoded), sorted(theirs));
    }
}
