//! `SpanStarter`: OpenTelemetry spans started straight into the export queue, asserted on the
//! `SpanData` the pipeline exports. Each test builds its own pipeline (no global state).
use baker_otel::config::EnvSource;
use baker_otel::context::{BakerScope, CONVERSATION_ID, JOB_ID};
use baker_otel::{SpanStarter, Telemetry};
use opentelemetry::trace::{
    Event, Link, SpanBuilder, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags,
    TraceId, TraceState,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use std::time::{Duration, SystemTime};

#[path = "support/span_sink.rs"]
mod span_sink;
use span_sink::Sink;

struct Pipeline {
    telemetry: Telemetry,
    sink: Sink,
    starter: SpanStarter,
}

impl Pipeline {
    fn new(extra: &[(&str, &str)]) -> Self {
        let (telemetry, _dispatch, sink) = span_sink::pipeline(extra);
        let scope = InstrumentationScope::builder("starter-test")
            .with_version("1.2.3")
            .build();
        let starter = telemetry.span_starter(scope);
        Self {
            telemetry,
            sink,
            starter,
        }
    }

    fn spans(&self) -> Vec<SpanData> {
        self.telemetry.force_flush().expect("flush");
        self.sink.0.lock().unwrap().clone()
    }
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn remote(flags: TraceFlags) -> Context {
    Context::new().with_remote_span_context(span_sink::remote_parent(flags))
}

#[test]
fn a_started_span_is_exported_with_everything_its_builder_set() {
    let p = Pipeline::new(&[]);
    let start = SystemTime::now() - Duration::from_secs(3);
    let end = start + Duration::from_millis(1500);
    let linked = SpanContext::new(
        TraceId::from(7_u128),
        SpanId::from(9_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let builder = SpanBuilder::from_name("GET /jobs/{id}")
        .with_kind(SpanKind::Server)
        .with_start_time(start)
        .with_attributes([KeyValue::new("http.route", "/jobs/{id}")])
        .with_links(vec![Link::with_context(linked.clone())])
        .with_events(vec![Event::with_name("accepted")]);
    let cx = p.starter.start_with_attributes(
        builder,
        [KeyValue::new("url.path", "/jobs/7")],
        &Context::new(),
    );
    assert!(cx.span().is_recording());
    let sc = cx.span().span_context().clone();
    assert!(sc.is_valid() && sc.is_sampled() && !sc.is_remote());
    cx.span()
        .set_attribute(KeyValue::new("http.response.status_code", 200));
    cx.span()
        .set_attribute(KeyValue::new("http.response.status_code", 201));
    cx.span().set_status(Status::error("boom"));
    cx.span().update_name("GET /jobs/{id} renamed");
    cx.span().end_with_timestamp(end);
    assert!(!cx.span().is_recording(), "ended");
    cx.span().set_attribute(KeyValue::new("after.end", true)); // ignored
    cx.span().end(); // a second end does nothing
    drop(cx);

    let spans = p.spans();
    assert_eq!(spans.len(), 1, "exported once");
    let s = &spans[0];
    assert_eq!(s.name, "GET /jobs/{id} renamed");
    assert_eq!(s.span_kind, SpanKind::Server);
    assert_eq!(s.span_context, sc);
    assert_eq!(s.parent_span_id, SpanId::INVALID);
    assert_eq!((s.start_time, s.end_time), (start, end));
    assert_eq!(attr(s, "http.route"), Some(Value::from("/jobs/{id}")));
    assert_eq!(attr(s, "url.path"), Some(Value::from("/jobs/7")));
    // Set twice: the last value, once.
    let codes: Vec<_> = s
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str() == "http.response.status_code")
        .collect();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].value, Value::I64(201));
    assert_eq!(attr(s, "after.end"), None);
    assert_eq!(s.status, Status::error("boom"));
    assert_eq!(s.links.links.len(), 1);
    assert_eq!(s.links.links[0].span_context, linked);
    assert_eq!(s.events.events.len(), 1);
    assert_eq!(s.events.events[0].name, "accepted");
    assert_eq!(s.instrumentation_scope.name(), "starter-test");
    assert_eq!(s.instrumentation_scope.version(), Some("1.2.3"));
}

#[test]
fn the_last_context_dropped_ends_the_span() {
    let p = Pipeline::new(&[]);
    let cx = p
        .starter
        .start(SpanBuilder::from_name("dropped"), &Context::new());
    let clone = cx.clone();
    drop(cx);
    assert!(p.spans().is_empty(), "a clone still holds the span");
    assert!(clone.span().is_recording());
    drop(clone);
    let spans = p.spans();
    assert_eq!(spans.len(), 1);
    assert!(spans[0].end_time >= spans[0].start_time);
}

#[test]
fn a_remote_parent_gives_trace_and_parent_ids_and_baggage_gives_the_baker_ids() {
    let p = Pipeline::new(&[]);
    let parent = BakerScope::from_context(remote(TraceFlags::SAMPLED))
        .conversation_id("conv-1")
        .job_id("job-1")
        .context();
    let cx = p.starter.start(SpanBuilder::from_name("child"), &parent);
    let sc = cx.span().span_context().clone();
    // The new context keeps the parent's baggage.
    assert_eq!(
        baker_otel::context::ids(&cx),
        (Some("conv-1".into()), Some("job-1".into()))
    );
    drop(cx);
    let s = &p.spans()[0];
    assert_eq!(s.span_context.trace_id(), sc.trace_id());
    assert_eq!(
        s.span_context.trace_id(),
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128)
    );
    assert_eq!(s.parent_span_id, SpanId::from(0x00f0_67aa_0ba9_02b7_u64));
    assert!(s.parent_span_is_remote);
    assert_eq!(attr(s, CONVERSATION_ID), Some(Value::from("conv-1")));
    assert_eq!(attr(s, JOB_ID), Some(Value::from("job-1")));
}

#[test]
fn an_unsampled_parent_gives_a_propagating_span_that_is_not_exported() {
    let p = Pipeline::new(&[]);
    let parent = remote(TraceFlags::default());
    let cx = p
        .starter
        .start(SpanBuilder::from_name("unsampled"), &parent);
    let sc = cx.span().span_context().clone();
    assert!(sc.is_valid(), "its ids still propagate");
    assert!(!sc.is_sampled());
    assert_eq!(sc.trace_id(), parent.span().span_context().trace_id());
    assert_ne!(sc.span_id(), parent.span().span_context().span_id());
    assert!(!cx.span().is_recording());
    cx.span().end();
    drop(cx);
    assert!(p.spans().is_empty());
}

#[test]
fn the_configured_sampler_decides() {
    let off = Pipeline::new(&[("OTEL_TRACES_SAMPLER", "always_off")]);
    let cx = off
        .starter
        .start(SpanBuilder::from_name("never"), &Context::new());
    assert!(!cx.span().span_context().is_sampled());
    drop(cx);
    assert!(off.spans().is_empty());

    // Ratio 1.0 goes through the SDK's ratio sampler: every span is kept.
    let ratio = Pipeline::new(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.0"),
    ]);
    drop(
        ratio
            .starter
            .start(SpanBuilder::from_name("kept"), &Context::new()),
    );
    assert_eq!(ratio.spans().len(), 1);
}

#[test]
fn span_limits_apply() {
    let p = Pipeline::new(&[
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
    ]);
    let long = "x".repeat(100);
    let cx = p.starter.start_with_attributes(
        SpanBuilder::from_name("limited"),
        [
            KeyValue::new("a", long.clone()),
            KeyValue::new("b", 2),
            KeyValue::new("c", 3),
        ],
        &Context::new(),
    );
    drop(cx);
    let s = &p.spans()[0];
    assert_eq!(s.attributes.len(), 2);
    assert_eq!(s.dropped_attributes_count, 1);
    let Some(Value::String(a)) = attr(s, "a") else {
        panic!("a is a string")
    };
    assert!(a.as_str().len() <= 20, "{a}");
    assert!(a.as_str().ends_with("[truncated]"), "{a}");
}

#[test]
fn nothing_is_started_with_the_sdk_disabled_nor_exported_after_shutdown() {
    let (disabled, _) = Telemetry::builder()
        .env_source(EnvSource::from_pairs([("OTEL_SDK_DISABLED", "true")]))
        .build()
        .unwrap();
    let starter = disabled.span_starter(InstrumentationScope::builder("x").build());
    assert!(!starter.is_enabled());
    let parent = remote(TraceFlags::SAMPLED);
    let cx = starter.start(SpanBuilder::from_name("nothing"), &parent);
    assert_eq!(cx.span().span_context(), parent.span().span_context());

    let p = Pipeline::new(&[]);
    assert!(p.starter.is_enabled());
    let cx = p
        .starter
        .start(SpanBuilder::from_name("late"), &Context::new());
    p.telemetry.shutdown().unwrap();
    drop(cx);
    assert!(p.sink.0.lock().unwrap().is_empty());
}
