//! The service's own sampler and id generator (`with_sampler`, `with_id_generator`) decide and
//! make the ids of every kind of span: `tracing` spans, spans recorded through
//! tracing-opentelemetry's layer, `SpanStarter` spans and spans of the SDK tracer provider.
//! Asserted on the spans the pipeline exported; each test builds its own scoped pipeline.
use baker_otel::context::{self, BakerScope};
use opentelemetry::trace::{Link, SpanId, SpanKind, TraceContextExt as _, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{
    IdGenerator, Sampler, SamplingDecision, SamplingResult, ShouldSample, SpanData,
};
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[path = "support/every_span.rs"]
mod every_span;
#[path = "support/span_sink.rs"]
mod span_sink;
use every_span::{one_of_each, NAMES};

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn names(spans: &[SpanData]) -> BTreeSet<String> {
    spans.iter().map(|s| s.name.to_string()).collect()
}

fn spans(telemetry: &baker_otel::Telemetry, sink: &span_sink::Sink) -> Vec<SpanData> {
    telemetry.force_flush().expect("flush");
    sink.0.lock().unwrap().clone()
}

/// What the sampler was asked about one span.
#[derive(Debug, Clone, PartialEq)]
struct Asked {
    name: String,
    kind: SpanKind,
    case: Option<String>,
    conversation: Option<String>,
}

/// The README's example: every span of a flagged conversation is kept (and marked); the
/// configured sampler decides for the others. It also notes what it was asked.
#[derive(Debug, Clone)]
struct KeepFlagged {
    flagged: Arc<RwLock<HashSet<String>>>,
    otherwise: Sampler,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl ShouldSample for KeepFlagged {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let conversation = parent.and_then(context::conversation_id_in);
        self.asked.lock().unwrap().push(Asked {
            name: name.to_owned(),
            kind: kind.clone(),
            case: attributes
                .iter()
                .find(|kv| kv.key.as_str() == "case")
                .map(|kv| kv.value.to_string()),
            conversation: conversation.map(str::to_owned),
        });
        if conversation.is_some_and(|c| self.flagged.read().unwrap().contains(c)) {
            let state = parent
                .map(|cx| cx.span().span_context().trace_state().clone())
                .unwrap_or_default();
            return SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: vec![KeyValue::new("baker.sampling.rule", "flagged")],
                trace_state: state.insert("baker", "flagged").expect("valid trace state"),
            };
        }
        self.otherwise
            .should_sample(parent, trace_id, name, kind, attributes, links)
    }
}

/// A pipeline sampling nothing by configuration (`traceidratio` 0) but what `KeepFlagged` keeps.
fn flagged_pipeline() -> (
    baker_otel::Telemetry,
    tracing::Dispatch,
    span_sink::Sink,
    KeepFlagged,
) {
    let flagged = KeepFlagged {
        flagged: Arc::default(),
        otherwise: Sampler::AlwaysOn,
        asked: Arc::default(),
    };
    let mine = flagged.clone();
    let ratio_zero = [
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ];
    let (telemetry, dispatch, sink) = span_sink::pipeline_with(&ratio_zero, move |b| {
        let otherwise = Sampler::from(b.config().expect("valid configuration").sampler);
        b.with_sampler(KeepFlagged { otherwise, ..mine })
    });
    (telemetry, dispatch, sink, flagged)
}

#[test]
fn the_service_sampler_keeps_a_flagged_conversation_in_every_kind_of_span() {
    let (telemetry, dispatch, sink, sampler) = flagged_pipeline();
    sampler
        .flagged
        .write()
        .unwrap()
        .insert("conv-flagged".into());
    for (conversation, case) in [("conv-flagged", "flagged"), ("conv-other", "other")] {
        BakerScope::current()
            .conversation_id(conversation)
            .in_scope(|| one_of_each(&telemetry, &dispatch, case));
    }

    let spans = spans(&telemetry, &sink);
    assert_eq!(names(&spans), NAMES.iter().map(|n| n.to_string()).collect());
    for span in &spans {
        let name = &span.name;
        assert_eq!(attr(span, "case"), Some("flagged".into()), "{name}");
        assert_eq!(
            attr(span, "baker.sampling.rule"),
            Some("flagged".into()),
            "{name}: the sampler's attributes are applied"
        );
        assert_eq!(
            span.span_context.trace_state().get("baker"),
            Some("flagged"),
            "{name}: the sampler's trace state is applied"
        );
        assert_eq!(span.span_kind, SpanKind::Server, "{name}");
    }

    // It was asked about all eight spans, with what each one knew at start.
    let asked = sampler.asked.lock().unwrap().clone();
    for (conversation, case) in [("conv-flagged", "flagged"), ("conv-other", "other")] {
        for name in NAMES {
            let expected = Asked {
                name: name.into(),
                kind: SpanKind::Server,
                case: Some(case.into()),
                conversation: Some(conversation.into()),
            };
            assert!(asked.contains(&expected), "{expected:?} not in {asked:#?}");
        }
    }
}

#[test]
fn a_conversation_flagged_later_is_kept_from_then_on() {
    let (telemetry, dispatch, sink, sampler) = flagged_pipeline();
    let turn = |n: i64| {
        BakerScope::current()
            .conversation_id("conv-9")
            .in_scope(|| {
                tracing::dispatcher::with_default(&dispatch, || {
                    tracing::info_span!("turn", n).in_scope(|| {
                        tracing::info_span!("llm call").in_scope(|| {});
                    })
                })
            })
    };
    turn(1);
    sampler.flagged.write().unwrap().insert("conv-9".into()); // its budget ran out
    turn(2);

    let spans = spans(&telemetry, &sink);
    assert_eq!(spans.len(), 2, "only the second turn: {spans:#?}");
    let parent = spans.iter().find(|s| s.name == "turn").expect("turn");
    assert_eq!(attr(parent, "n"), Some(Value::I64(2)));
    let child = spans.iter().find(|s| s.name == "llm call").expect("child");
    assert_eq!(child.parent_span_id, parent.span_context.span_id());
}

#[test]
fn without_a_service_sampler_the_configured_one_decides_for_every_kind() {
    for (sampler, exported) in [("always_off", 0), ("parentbased_always_on", 4)] {
        let (telemetry, dispatch, sink) = span_sink::pipeline(&[("OTEL_TRACES_SAMPLER", sampler)]);
        one_of_each(&telemetry, &dispatch, "configured");
        assert_eq!(spans(&telemetry, &sink).len(), exported, "{sampler}");
    }
}

/// AWS X-Ray style trace ids: the first 4 bytes are the epoch seconds, then a counter; span ids
/// count from 1. Every id it hands out is noted.
#[derive(Debug, Default)]
struct XRayIds {
    next: AtomicU64,
    traces: Mutex<Vec<TraceId>>,
    spans: Mutex<Vec<SpanId>>,
}

impl IdGenerator for XRayIds {
    fn new_trace_id(&self) -> TraceId {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32;
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&secs.to_be_bytes());
        id[8..].copy_from_slice(&n.to_be_bytes());
        let id = TraceId::from_bytes(id);
        self.traces.lock().unwrap().push(id);
        id
    }

    fn new_span_id(&self) -> SpanId {
        let id = SpanId::from(self.next.fetch_add(1, Ordering::Relaxed) + 1);
        self.spans.lock().unwrap().push(id);
        id
    }
}

#[derive(Debug, Clone)]
struct Shared(Arc<XRayIds>);

impl IdGenerator for Shared {
    fn new_trace_id(&self) -> TraceId {
        self.0.new_trace_id()
    }
    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

#[test]
fn the_service_id_generator_makes_the_ids_of_every_kind_of_span() {
    let ids = Arc::new(XRayIds::default());
    let generator = Shared(ids.clone());
    let (telemetry, dispatch, sink) =
        span_sink::pipeline_with(&[], move |b| b.with_id_generator(generator));
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    one_of_each(&telemetry, &dispatch, "x-ray");
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("parent").in_scope(|| tracing::info_span!("child").in_scope(|| {}));
    });
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let spans = spans(&telemetry, &sink);
    assert_eq!(spans.len(), 6);
    let issued_traces = ids.traces.lock().unwrap().clone();
    let issued_spans = ids.spans.lock().unwrap().clone();
    let mut seen = HashSet::new();
    for span in &spans {
        let sc = &span.span_context;
        assert!(issued_spans.contains(&sc.span_id()), "{}", span.name);
        assert!(seen.insert(sc.span_id()), "span ids are not reused");
        assert!(issued_traces.contains(&sc.trace_id()), "{}", span.name);
        let b = sc.trace_id().to_bytes();
        let secs = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        assert!((before..=after).contains(&secs), "{}: {secs}", span.name);
    }
    let parent = spans.iter().find(|s| s.name == "parent").unwrap();
    let child = spans.iter().find(|s| s.name == "child").unwrap();
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id()
    );
    assert_eq!(child.parent_span_id, parent.span_context.span_id());
}

#[test]
fn a_sampled_out_span_still_gets_its_ids_from_the_service_generator() {
    let ids = Arc::new(XRayIds::default());
    let generator = Shared(ids.clone());
    let (telemetry, dispatch, sink) =
        span_sink::pipeline_with(&[("OTEL_TRACES_SAMPLER", "always_off")], move |b| {
            b.with_id_generator(generator)
        });
    let cx = tracing::dispatcher::with_default(&dispatch, || {
        use baker_otel::OpenTelemetrySpanExt as _;
        tracing::info_span!("dropped").context()
    });
    let sc = cx.span().span_context().clone();
    assert!(!sc.is_sampled());
    assert_eq!(ids.traces.lock().unwrap().as_slice(), [sc.trace_id()]);
    assert_eq!(ids.spans.lock().unwrap().as_slice(), [sc.span_id()]);
    assert!(spans(&telemetry, &sink).is_empty());
}
