//! The service's own span processors (`with_span_processor`) and start hooks
//! (`with_span_start_hook`) see every kind of span: `tracing` spans, spans recorded through
//! tracing-opentelemetry's layer, `SpanStarter` spans and spans of the SDK tracer provider.
//! Asserted on the spans the pipeline exported; each test builds its own scoped pipeline.
use baker_otel::{OpenTelemetrySpanExt as _, StartingSpan};
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _, TraceFlags, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SamplingDecision, SamplingResult, ShouldSample, SimpleSpanProcessor,
    Span, SpanData, SpanProcessor,
};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

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

fn exported(telemetry: &baker_otel::Telemetry, sink: &span_sink::Sink) -> Vec<SpanData> {
    telemetry.force_flush().expect("flush");
    sorted(sink.0.lock().unwrap().clone())
}

fn sorted(mut spans: Vec<SpanData>) -> Vec<SpanData> {
    spans.sort_by_key(|s| s.span_context.span_id().to_bytes());
    spans
}

/// Notes what it is given.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Noted>);

#[derive(Debug, Default)]
struct Noted {
    started: Mutex<Vec<String>>,
    ended: Mutex<Vec<SpanData>>,
    flushes: AtomicUsize,
    shutdowns: AtomicUsize,
}

impl SpanProcessor for Recorder {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        let name = span.exported_data().map(|d| d.name.to_string());
        self.0.started.lock().unwrap().extend(name);
    }
    fn on_end(&self, span: SpanData) {
        self.0.ended.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.0.shutdowns.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn span_processors_get_every_kind_of_span_as_it_is_exported() {
    let recorder = Recorder::default();
    let second = InMemorySpanExporter::default();
    let (r, s) = (recorder.clone(), second.clone());
    let (telemetry, dispatch, sink) = span_sink::pipeline_with(&[], move |b| {
        b.with_span_processor(r)
            .with_span_processor(SimpleSpanProcessor::new(s))
    });
    one_of_each(&telemetry, &dispatch, "all");
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("parent").in_scope(|| {
            tracing::info_span!("child", long = %"x".repeat(50)).in_scope(|| {});
        });
    });

    let exported = exported(&telemetry, &sink);
    let names: BTreeSet<_> = exported.iter().map(|s| s.name.to_string()).collect();
    let mut expected: BTreeSet<_> = NAMES.iter().map(|n| n.to_string()).collect();
    expected.extend(["parent".to_owned(), "child".to_owned()]);
    assert_eq!(names, expected);
    // Each processor got exactly what the pipeline exported (the long value cut alike).
    assert_eq!(sorted(recorder.0.ended.lock().unwrap().clone()), exported);
    assert_eq!(sorted(second.get_finished_spans().unwrap()), exported);
    // `on_start` takes the SDK's own `Span`: only the tracer provider's spans have one.
    assert_eq!(*recorder.0.started.lock().unwrap(), ["sdk span"]);
}

#[test]
fn the_length_limit_is_applied_before_the_processors_see_a_span() {
    let recorder = Recorder::default();
    let r = recorder.clone();
    let limit = [("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20")];
    let (telemetry, dispatch, sink) =
        span_sink::pipeline_with(&limit, move |b| b.with_span_processor(r));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("long", value = %"x".repeat(50)).in_scope(|| {});
    });
    let exported = exported(&telemetry, &sink);
    let Some(Value::String(cut)) = attr(&exported[0], "value") else {
        panic!("no value: {exported:?}");
    };
    assert!(cut.as_str().len() <= 20, "{cut}");
    assert_eq!(*recorder.0.ended.lock().unwrap(), exported);
}

#[test]
fn flush_and_shutdown_reach_the_service_processors_and_end_their_feed() {
    let recorder = Recorder::default();
    let r = recorder.clone();
    let (telemetry, dispatch, _sink) =
        span_sink::pipeline_with(&[], move |b| b.with_span_processor(r));
    one_of_each(&telemetry, &dispatch, "before");
    telemetry.force_flush().expect("flush");
    assert_eq!(recorder.0.flushes.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.0.ended.lock().unwrap().len(), 4);

    telemetry.shutdown().expect("shutdown");
    assert_eq!(recorder.0.shutdowns.load(Ordering::SeqCst), 1);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("after shutdown").in_scope(|| {});
    });
    assert_eq!(
        recorder.0.ended.lock().unwrap().len(),
        4,
        "nothing after shutdown"
    );
}

/// Blocks in `shutdown_with_timeout` until released.
#[derive(Debug)]
struct Stuck(Mutex<mpsc::Receiver<()>>);

impl SpanProcessor for Stuck {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}
    fn on_end(&self, _span: SpanData) {}
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let _ = self.0.lock().unwrap().recv();
        Ok(())
    }
}

#[test]
fn a_processor_stuck_in_shutdown_costs_neither_the_export_nor_the_deadline() {
    let (release, stuck) = mpsc::channel();
    let (telemetry, dispatch, sink) = span_sink::pipeline_with(&[], move |b| {
        b.shutdown_timeout(Duration::from_millis(500))
            .with_span_processor(Stuck(Mutex::new(stuck)))
    });
    one_of_each(&telemetry, &dispatch, "queued");
    // Shutdown returns (reporting the stuck processor), and the queue was shut down alongside:
    // what it held is exported.
    let result = telemetry.shutdown();
    assert!(result.is_err(), "{result:?}");
    assert_eq!(sink.0.lock().unwrap().len(), 4);
    release.send(()).unwrap();
}

/// Records only the spans named "record only"; samples the rest.
#[derive(Debug, Clone)]
struct RecordOnly;

impl ShouldSample for RecordOnly {
    fn should_sample(
        &self,
        _parent: Option<&Context>,
        _trace_id: TraceId,
        name: &str,
        _kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: if name == "record only" {
                SamplingDecision::RecordOnly
            } else {
                SamplingDecision::RecordAndSample
            },
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

#[test]
fn record_only_spans_reach_the_processors_but_are_not_exported() {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    let recorder = Recorder::default();
    let r = recorder.clone();
    let (telemetry, dispatch, sink) = span_sink::pipeline_with(&[], move |b| {
        b.with_sampler(RecordOnly).with_span_processor(r)
    });
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("record only").in_scope(|| {});
        tracing::info_span!("sampled").in_scope(|| {});
    });
    let tracer = telemetry.tracer_provider().unwrap().tracer("sdk");
    tracer.start("record only").end();

    let exported = exported(&telemetry, &sink);
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].name, "sampled");
    let ended = recorder.0.ended.lock().unwrap().clone();
    let unsampled: Vec<_> = ended
        .iter()
        .filter(|s| !s.span_context.is_sampled())
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(unsampled, ["record only", "record only"]);
    assert_eq!(ended.len(), 3);
}

#[test]
fn a_start_hook_enriches_every_kind_of_span_from_its_final_parent() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let noted = seen.clone();
    let hook = move |span: &mut StartingSpan<'_>, parent: &Context| {
        noted.lock().unwrap().push(span.name().map(str::to_owned));
        if let Some(tenant) = parent.baggage().get("tenant.id") {
            span.set_attribute(KeyValue::new("tenant.id", tenant.clone()));
        }
        span.set_attribute(KeyValue::new(
            "hook.trace_id",
            span.span_context().trace_id().to_string(),
        ));
    };
    let (telemetry, dispatch, sink) =
        span_sink::pipeline_with(&[], move |b| b.with_span_start_hook(hook));
    let acme = Context::current().with_baggage([KeyValue::new("tenant.id", "acme")]);
    {
        let _attached = acme.attach();
        one_of_each(&telemetry, &dispatch, "hooked");
    }
    // A server span created before its remote parent is known: the hook sees the caller's
    // baggage, set with `set_parent` before the span was entered.
    let remote = Context::new()
        .with_remote_span_context(span_sink::remote_parent(TraceFlags::SAMPLED))
        .with_baggage([KeyValue::new("tenant.id", "globex")]);
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("server");
        span.set_parent(remote).expect("not entered yet");
        span.in_scope(|| {});
    });

    let exported = exported(&telemetry, &sink);
    assert_eq!(exported.len(), 5);
    for span in &exported {
        let tenant = if span.name == "server" {
            "globex"
        } else {
            "acme"
        };
        assert_eq!(
            attr(span, "tenant.id"),
            Some(tenant.into()),
            "{}",
            span.name
        );
        let trace_id = span.span_context.trace_id().to_string();
        assert_eq!(
            attr(span, "hook.trace_id"),
            Some(trace_id.into()),
            "{}",
            span.name
        );
        let once = span
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() == "tenant.id");
        assert_eq!(once.count(), 1, "{}: one hook call", span.name);
    }
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    // The SDK's `Span` does not show its name before it ends.
    let expected = [
        None,
        Some("compat span"),
        Some("server"),
        Some("starter span"),
        Some("tracing span"),
    ];
    assert_eq!(seen, expected.map(|n| n.map(str::to_owned)));
}

/// Logs every span it is given.
#[derive(Debug)]
struct Logging;

impl SpanProcessor for Logging {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        tracing::info!("span starting");
    }
    fn on_end(&self, span: SpanData) {
        tracing::info!(span = %span.name, "span ended");
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[test]
fn a_processor_may_log_while_spans_end() {
    let (telemetry, dispatch, sink) =
        span_sink::pipeline_with(&[], |b| b.with_span_processor(Logging));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("outer").in_scope(|| {
            one_of_each(&telemetry, &dispatch, "logged");
        });
    });
    assert_eq!(exported(&telemetry, &sink).len(), 5);
}
