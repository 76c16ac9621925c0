//! The estimates against the real encoders: never below the bytes they stand for.
//!
//! The property tests build spans and log records with every part a client or the application can
//! make large — `tracestate` on the span and on its links (up to the SDK's 32 list-members of
//! 256-byte keys and values), link and event attributes, every attribute type including arrays of
//! negative integers (10-byte varints), long names, scopes with versions and attributes — and
//! check that the estimates bound what [`TraceEncoder`] and [`LogEncoder`] write.

use super::{log, span};
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};

#[test]
fn estimates_cover_the_encoded_size() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::InMemorySpanExporter;
    let exporter = InMemorySpanExporter::default();
    let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    tp.tracer("t").in_span("a span name", |cx| {
        use opentelemetry::trace::TraceContextExt as _;
        let span = cx.span();
        span.set_attribute(opentelemetry::KeyValue::new("big", "x".repeat(10_000)));
        span.set_attribute(opentelemetry::KeyValue::new("n", 5));
        span.add_event(
            "ev",
            vec![opentelemetry::KeyValue::new("k", "v".repeat(500))],
        );
    });
    let spans = exporter.get_finished_spans().unwrap();
    let est = span(&spans[0]);
    assert!(est >= 10_500 + 11, "{est}");
    assert!(est < 12_000, "not wildly over: {est}");

    let lp = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
    let mut r = lp.logger("scope").create_log_record();
    r.set_body("b".repeat(2_000).into());
    r.add_attribute("attr", "a".repeat(3_000));
    let est = log(&(
        r,
        opentelemetry::InstrumentationScope::builder("scope").build(),
    ));
    assert!((5_000..6_000).contains(&est), "{est}");
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod bound {
    use super::super::{log, span};
    use crate::export::proto::{LogEncoder, TraceEncoder};
    use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry::trace::{
        Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
    use opentelemetry_sdk::logs::SdkLogRecord;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use opentelemetry_sdk::Resource;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// A `tracestate` of `members` list-members (at most the SDK's 32), each with a key and a value
    /// of the given lengths (at most 256 bytes each, the W3C limits).
    fn trace_state(members: &[(usize, usize)]) -> TraceState {
        TraceState::from_key_value(
            members
                .iter()
                .enumerate()
                .map(|(i, &(k, v))| (format!("k{i:02}{}", "x".repeat(k)), "v".repeat(v))),
        )
        .expect("valid list-members")
    }

    fn arb_trace_state() -> impl Strategy<Value = TraceState> {
        prop_oneof![
            1 => Just(TraceState::NONE),
            3 => prop::collection::vec((0..=253usize, 0..=256usize), 0..=32)
                .prop_map(|m| trace_state(&m)),
        ]
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let s = || "\\PC{0,40}".prop_map(StringValue::from);
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            any::<f64>().prop_map(Value::F64),
            "\\PC{0,300}".prop_map(|s| Value::String(s.into())),
            prop::collection::vec(s(), 0..24).prop_map(|v| Value::Array(Array::String(v))),
            prop::collection::vec(any::<bool>(), 0..40).prop_map(|v| Value::Array(Array::Bool(v))),
            // Negative integers are 10-byte varints: the widest element there is.
            prop::collection::vec(prop_oneof![any::<i64>(), i64::MIN..0], 0..40)
                .prop_map(|v| Value::Array(Array::I64(v))),
            prop::collection::vec(any::<f64>(), 0..40).prop_map(|v| Value::Array(Array::F64(v))),
        ]
    }

    fn arb_attrs() -> impl Strategy<Value = Vec<KeyValue>> {
        prop::collection::vec(
            ("[a-z._]{0,24}", arb_value()).prop_map(|(k, v)| KeyValue::new(k, v)),
            0..8,
        )
    }

    fn ctx(ids: (u128, u64, u8, bool), ts: TraceState) -> SpanContext {
        let (t, s, f, remote) = ids;
        SpanContext::new(
            TraceId::from(t),
            SpanId::from(s),
            TraceFlags::new(f),
            remote,
            ts,
        )
    }

    fn arb_scope() -> impl Strategy<Value = InstrumentationScope> {
        (
            "\\PC{0,40}",
            prop::option::of("\\PC{0,20}"),
            prop::option::of("\\PC{0,40}"),
            arb_attrs(),
        )
            .prop_map(|(name, version, schema, attrs)| {
                let mut b = InstrumentationScope::builder(name).with_attributes(attrs);
                if let Some(v) = version {
                    b = b.with_version(v);
                }
                if let Some(s) = schema {
                    b = b.with_schema_url(s);
                }
                b.build()
            })
    }

    type Ids = (u128, u64, u8, bool);

    prop_compose! {
        fn arb_link()(
            ids in any::<Ids>(),
            ts in arb_trace_state(),
            attrs in arb_attrs(),
            dropped in any::<u32>(),
        ) -> Link {
            Link::new(ctx(ids, ts), attrs, dropped)
        }
    }

    prop_compose! {
        fn arb_span()(
            name in "\\PC{0,64}",
            ids in any::<Ids>(),
            ts in arb_trace_state(),
            parent in (any::<u64>(), any::<bool>()),
            kind in 0..5usize,
            times in any::<(u64, u64)>(),
            attributes in arb_attrs(),
            counts in any::<(u32, u32, u32)>(),
            events in prop::collection::vec(("\\PC{0,32}", any::<u64>(), arb_attrs(), any::<u32>()), 0..4),
            links in prop::collection::vec(arb_link(), 0..4),
            status in (0..3u8, "\\PC{0,100}"),
            scope in arb_scope(),
        ) -> SpanData {
            let kinds = [SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer];
            SpanData {
                span_context: ctx(ids, ts),
                parent_span_id: SpanId::from(parent.0),
                parent_span_is_remote: parent.1,
                span_kind: kinds[kind].clone(),
                name: name.into(),
                start_time: UNIX_EPOCH + Duration::from_nanos(times.0),
                end_time: UNIX_EPOCH + Duration::from_nanos(times.1),
                attributes,
                dropped_attributes_count: counts.0,
                events: {
                    let mut e = SpanEvents::default();
                    e.events = events
                        .into_iter()
                        .map(|(n, t, a, d)| Event::new(n, UNIX_EPOCH + Duration::from_nanos(t), a, d))
                        .collect();
                    e.dropped_count = counts.1;
                    e
                },
                links: {
                    let mut l = SpanLinks::default();
                    l.links = links;
                    l.dropped_count = counts.2;
                    l
                },
                status: match status.0 {
                    0 => Status::Unset,
                    1 => Status::Ok,
                    _ => Status::error(status.1),
                },
                instrumentation_scope: scope,
            }
        }
    }

    fn arb_any(depth: u32) -> BoxedStrategy<AnyValue> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(AnyValue::Int),
            any::<f64>().prop_map(AnyValue::Double),
            "\\PC{0,200}".prop_map(|s| AnyValue::String(s.into())),
            any::<bool>().prop_map(AnyValue::Boolean),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| AnyValue::Bytes(Box::new(b))),
        ];
        if depth == 0 {
            return leaf.boxed();
        }
        prop_oneof![
            3 => leaf,
            1 => prop::collection::vec(arb_any(depth - 1), 0..12)
                .prop_map(|v| AnyValue::ListAny(Box::new(v))),
            1 => prop::collection::hash_map("[a-z]{0,12}", arb_any(depth - 1), 0..6)
                .prop_map(|m| AnyValue::Map(Box::new(m.into_iter().map(|(k, v)| (Key::from(k), v)).collect()))),
        ]
        .boxed()
    }

    prop_compose! {
        fn arb_record()(
            times in any::<(Option<u64>, u64)>(),
            text in any::<Option<bool>>(),
            body in prop::option::of(arb_any(2)),
            attrs in prop::collection::vec(("[a-z._]{0,24}", arb_any(2)), 0..6),
            trace in prop::option::of(any::<(u128, u64, Option<u8>)>()),
            target in prop::option::of("\\PC{0,80}"),
            event in prop::option::of(prop::sample::select(vec!["", "x", "gen_ai.client.inference.operation.details.with.a.long.event.name"])),
            scope in arb_scope(),
        ) -> (SdkLogRecord, InstrumentationScope) {
            let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
            let mut r = provider.logger("t").create_log_record();
            if let Some(t) = times.0 { r.set_timestamp(UNIX_EPOCH + Duration::from_nanos(t)); }
            r.set_observed_timestamp(UNIX_EPOCH + Duration::from_nanos(times.1));
            r.set_severity_number(opentelemetry::logs::Severity::Fatal4);
            if let Some(t) = text { r.set_severity_text(if t { "WARNING" } else { "" }); }
            if let Some(b) = body { r.set_body(b); }
            r.add_attributes(attrs.into_iter().map(|(k, v)| (Key::from(k), v)));
            if let Some((t, s, f)) = trace {
                r.set_trace_context(TraceId::from(t), SpanId::from(s), f.map(TraceFlags::new));
            }
            if let Some(t) = target { r.set_target(t); }
            if let Some(e) = event { r.set_event_name(e); }
            (r, scope)
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// One span, alone in a request with an empty resource: the estimate covers the whole
        /// request.
        #[test]
        fn a_span_estimate_bounds_its_request(s in arb_span()) {
            let encoded = TraceEncoder::new(&Resource::builder_empty().build()).encode(&[&s]);
            prop_assert!(span(&s) >= encoded.len(), "estimate {} < encoded {}", span(&s), encoded.len());
        }

        /// A batch: the estimates plus the resource (once per request) cover the request.
        #[test]
        fn span_estimates_bound_a_batch(spans in prop::collection::vec(arb_span(), 1..6)) {
            let e = TraceEncoder::new(&resource());
            let frame = e.encode::<SpanData>(&[]).len();
            let est: usize = spans.iter().map(span).sum();
            let encoded = e.encode(&spans).len();
            prop_assert!(est + frame >= encoded, "estimate {est} + resource {frame} < encoded {encoded}");
        }

        #[test]
        fn a_log_estimate_bounds_its_request(item in arb_record()) {
            let encoded = LogEncoder::new(&Resource::builder_empty().build()).encode(&[&item]);
            prop_assert!(log(&item) >= encoded.len(), "estimate {} < encoded {}", log(&item), encoded.len());
        }

        #[test]
        fn log_estimates_bound_a_batch(items in prop::collection::vec(arb_record(), 1..6)) {
            let e = LogEncoder::new(&resource());
            let frame = e.encode::<(SdkLogRecord, InstrumentationScope)>(&[]).len();
            let est: usize = items.iter().map(log).sum();
            let encoded = e.encode(&items).len();
            prop_assert!(est + frame >= encoded, "estimate {est} + resource {frame} < encoded {encoded}");
        }
    }

    /// The case a public client controls: the largest `tracestate` on a link.
    #[test]
    fn the_largest_client_tracestate_is_counted() {
        let ts = trace_state(&[(253, 256); 32]);
        assert!(ts.header().len() > 16_000);
        let scope = InstrumentationScope::builder("baker-otel").build();
        let mut s = SpanData {
            span_context: ctx((1, 2, 1, false), TraceState::NONE),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: "GET".into(),
            start_time: UNIX_EPOCH,
            end_time: UNIX_EPOCH,
            attributes: vec![],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope,
        };
        s.links.links = vec![Link::new(ctx((3, 4, 1, true), ts.clone()), vec![], 0)];
        let encoded = TraceEncoder::new(&Resource::builder_empty().build()).encode(&[&s]);
        assert!(
            span(&s) >= encoded.len(),
            "{} < {}",
            span(&s),
            encoded.len()
        );
        s.links.links.clear();
        s.span_context = ctx((1, 2, 1, false), ts);
        let encoded = TraceEncoder::new(&Resource::builder_empty().build()).encode(&[&s]);
        assert!(
            span(&s) >= encoded.len(),
            "{} < {}",
            span(&s),
            encoded.len()
        );
    }
}
