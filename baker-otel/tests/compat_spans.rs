//! `CompatSpans`: which spans tracing-opentelemetry's own layer records, and that those spans
//! get the hub's sampler, limits and Baker ids and keep their parents across the two layers.
//! Asserted on the `SpanData` the pipeline exports; each test builds its own scoped pipeline.
//! (The wire-level proof with real middleware crates is baker-otel-axum's
//! `tests/third_party_middleware.rs`.)
use baker_otel::context::BakerScope;
use baker_otel::{CompatSpans, Telemetry};
use opentelemetry::trace::{TraceContextExt, TraceFlags};
use opentelemetry::{Context, Key, Value};
use opentelemetry_sdk::trace::SpanData;
use std::sync::{Arc, Mutex};
use tracing::Dispatch;
use tracing_opentelemetry::{OpenTelemetrySpanExt as _, SetParentError};

#[path = "support/span_sink.rs"]
mod span_sink;
use span_sink::{remote_parent, Sink};

struct Pipeline {
    telemetry: Telemetry,
    dispatch: Dispatch,
    sink: Sink,
}

impl Pipeline {
    fn new(compat: CompatSpans, env: &[(&str, &str)]) -> Self {
        // The support pipeline logs at `trace`; a test that needs another filter says so.
        let mut vars = vec![("OTEL_SERVICE_NAME", "compat")];
        vars.extend_from_slice(env);
        let (telemetry, dispatch, sink) =
            span_sink::pipeline_with(&vars, |b| b.compat_spans(compat));
        Self {
            telemetry,
            dispatch,
            sink,
        }
    }

    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    fn spans(&self) -> Vec<SpanData> {
        self.telemetry.force_flush().expect("flush");
        self.sink.0.lock().unwrap().clone()
    }

    #[track_caller]
    fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "{name}: {spans:#?}");
        found[0].clone()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.telemetry.shutdown();
    }
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    let key = Key::new(key.to_owned());
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.clone())
}

fn remote() -> Context {
    Context::new().with_remote_span_context(remote_parent(TraceFlags::SAMPLED))
}

/// Whether tracing-opentelemetry's layer records a new span of `target`: then its trait's
/// `context()` names the span; on a span of baker-otel's own layer it finds no data and returns
/// an empty context (and `set_parent` returns `Ok` doing nothing, as tracing-opentelemetry does
/// for any span its layer's filter skips).
macro_rules! recorded_by_peer {
    ($target:literal) => {{
        let span = tracing::info_span!(target: $target, "probe");
        span.context().span().span_context().is_valid()
    }};
}

#[test]
fn auto_selects_instrumentation_crates_and_leaves_the_service_and_baker_spans_alone() {
    let p = Pipeline::new(CompatSpans::auto().with_target("acme_mw"), &[]);
    p.run(|| {
        assert!(recorded_by_peer!("otel::tracing"));
        assert!(recorded_by_peer!("reqwest_tracing::middleware"));
        assert!(recorded_by_peer!("tower_otel"));
        assert!(recorded_by_peer!("actix_web_opentelemetry::middleware"));
        assert!(recorded_by_peer!("acme_mw::client"));
        assert!(!recorded_by_peer!("worker::agent"));
        assert!(!recorded_by_peer!("baker_otel_nats"));
        assert!(!recorded_by_peer!("baker_otel_llm"));
        assert!(!recorded_by_peer!("acme"));
        // baker-otel's own trait serves those.
        let own = tracing::info_span!(target: "worker::agent", "own");
        assert!(baker_otel::OpenTelemetrySpanExt::context(&own)
            .span()
            .span_context()
            .is_valid());
    });
}

#[test]
fn all_and_off() {
    let all = Pipeline::new(CompatSpans::all(), &[]);
    all.run(|| assert!(recorded_by_peer!("worker::agent")));
    let off = Pipeline::new(CompatSpans::off(), &[("RUST_LOG", "trace")]);
    off.run(|| {
        let span = tracing::info_span!(target: "otel::tracing", "probe");
        let r = span.set_parent(remote());
        assert!(matches!(r, Err(SetParentError::LayerNotFound)), "{r:?}");
        assert!(!span.context().span().span_context().is_valid());
    });
}

#[test]
fn the_instrumentation_sdk_trace_level_is_enabled_unless_the_filter_names_it() {
    let default = Pipeline::new(CompatSpans::auto(), &[("RUST_LOG", "info")]);
    default.run(|| {
        let span = tracing::trace_span!(target: "otel::tracing", "sdk span");
        assert!(!span.is_disabled());
        assert!(tracing::trace_span!("own trace span").is_disabled());
    });
    let named = Pipeline::new(
        CompatSpans::auto(),
        &[("RUST_LOG", "info,otel::tracing=warn")],
    );
    named.run(|| assert!(tracing::trace_span!(target: "otel::tracing", "x").is_disabled()));
}

#[test]
fn compat_spans_follow_the_hubs_sampler_limits_and_baker_ids() {
    let p = Pipeline::new(
        CompatSpans::auto(),
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3"),
        ],
    );
    p.run(|| {
        // A sampled remote parent is followed; a root is dropped (parentbased_always_off).
        let kept = tracing::info_span!(target: "otel::tracing", "kept", a = 1, b = 2, c = 3, d = 4);
        kept.set_parent(remote()).unwrap();
        let _scope = BakerScope::from_context(kept.context())
            .conversation_id("conv-1")
            .job_id("job-1")
            .attach();
        drop(tracing::info_span!(target: "otel::tracing", "child with ids"));
        drop(kept);
        drop(tracing::info_span!(target: "otel::tracing", parent: None, "root dropped"));
    });
    let kept = p.span("kept");
    assert_eq!(
        kept.parent_span_id,
        remote_parent(TraceFlags::SAMPLED).span_id()
    );
    assert_eq!(kept.attributes.len(), 3, "{:?}", kept.attributes);
    assert_eq!(kept.dropped_attributes_count, 1);
    let child = p.span("child with ids");
    assert_eq!(child.parent_span_id, kept.span_context.span_id());
    assert_eq!(
        attr(&child, "gen_ai.conversation.id"),
        Some(Value::from("conv-1"))
    );
    assert_eq!(attr(&child, "baker.job.id"), Some(Value::from("job-1")));
    assert!(p.spans().iter().all(|s| s.name != "root dropped"));
}

#[test]
fn parents_cross_the_two_layers_both_ways() {
    let p = Pipeline::new(CompatSpans::auto(), &[]);
    p.run(|| {
        let own = tracing::info_span!("own root");
        let compat = tracing::info_span!(target: "otel::tracing", parent: &own, "compat child");
        let own_child = tracing::info_span!(parent: &compat, "own grandchild");
        compat.in_scope(|| {
            drop(tracing::info_span!("own contextual"));
            own.in_scope(|| {
                drop(tracing::info_span!(target: "otel::tracing", "compat contextual"))
            });
        });
        drop(own_child);
        drop(compat);
        drop(own);
    });
    let own = p.span("own root");
    let compat = p.span("compat child");
    assert_eq!(compat.parent_span_id, own.span_context.span_id());
    assert_eq!(compat.span_context.trace_id(), own.span_context.trace_id());
    assert_eq!(
        p.span("own grandchild").parent_span_id,
        compat.span_context.span_id()
    );
    assert_eq!(
        p.span("own contextual").parent_span_id,
        compat.span_context.span_id()
    );
    assert_eq!(
        p.span("compat contextual").parent_span_id,
        own.span_context.span_id()
    );
}

#[test]
fn baker_otels_trait_works_on_compat_spans() {
    use baker_otel::OpenTelemetrySpanExt as Baker;
    let p = Pipeline::new(CompatSpans::auto(), &[]);
    let id = p.run(|| {
        let span = tracing::info_span!(target: "otel::tracing", "through baker's trait");
        Baker::set_parent(&span, remote()).unwrap();
        Baker::set_attribute(&span, "app.tenant", "acme");
        Baker::set_status(&span, opentelemetry::trace::Status::error("late"));
        Baker::context(&span).span().span_context().span_id()
    });
    let s = p.span("through baker's trait");
    assert_eq!(s.span_context.span_id(), id);
    assert_eq!(
        s.parent_span_id,
        remote_parent(TraceFlags::SAMPLED).span_id()
    );
    assert_eq!(attr(&s, "app.tenant"), Some(Value::from("acme")));
    assert_eq!(s.status, opentelemetry::trace::Status::error("late"));
}

/// In a subscriber the service builds itself (`build_layers`) and next to the service's layers
/// (`with_layer`), tracing-opentelemetry's trait keeps working, parents included.
#[test]
fn the_contract_holds_in_composed_subscribers() {
    use tracing_subscriber::layer::SubscriberExt;
    let sink = Sink::default();
    let env = baker_otel::config::EnvSource::from_pairs([
        ("OTEL_SERVICE_NAME", "compat"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("BAKER_OTEL_JSON_LOGS", "false"),
    ]);
    let (telemetry, baker) = Telemetry::builder()
        .env_source(env.clone())
        .with_span_exporter(sink.clone())
        .compat_spans(CompatSpans::auto())
        .build_layers()
        .unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(baker)
        .with(tracing_error::ErrorLayer::default());
    let added = Sink::default();
    let (with_layer, dispatch) = Telemetry::builder()
        .env_source(env)
        .with_span_exporter(added.clone())
        .compat_spans(CompatSpans::auto())
        .with_layer(tracing_error::ErrorLayer::default())
        .build()
        .unwrap();
    let probe = || {
        let own = tracing::info_span!("own");
        let sdk = tracing::trace_span!(target: "otel::tracing", parent: &own, "sdk");
        let cx = sdk.context();
        assert!(cx.span().span_context().is_valid());
        drop(sdk);
        drop(own);
    };
    tracing::subscriber::with_default(subscriber, probe);
    tracing::dispatcher::with_default(&dispatch, probe);
    for (t, sink) in [(telemetry, sink), (with_layer, added)] {
        t.force_flush().unwrap();
        let spans = sink.0.lock().unwrap().clone();
        let own = spans.iter().find(|s| s.name == "own").expect("own");
        let sdk = spans.iter().find(|s| s.name == "sdk").expect("sdk");
        assert_eq!(sdk.parent_span_id, own.span_context.span_id());
        t.shutdown().unwrap();
    }
}

/// The default is off, and says so: the first span of a crate built on tracing-opentelemetry
/// logs one warning naming its target and the setting.
#[test]
fn off_by_default_with_one_warning_when_a_crate_needs_it() {
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let (telemetry, dispatch) = Telemetry::builder()
        .env_source(baker_otel::config::EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "compat"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]))
        .json_sink(baker_otel::JsonSink::Writer(Arc::new(Mutex::new(
            lines.clone(),
        ))))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let own = tracing::info_span!("own");
        assert!(own.set_parent(remote()).is_err());
        for _ in 0..3 {
            let mw = tracing::info_span!(target: "reqwest_tracing::middleware", "mw");
            assert!(matches!(
                mw.set_parent(remote()),
                Err(SetParentError::LayerNotFound)
            ));
        }
    });
    // The warning is logged from its own thread: wait for it (bounded).
    let text = || String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    for _ in 0..200 {
        if text().contains("compat_spans") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let text = text();
    let warnings: Vec<_> = text
        .lines()
        .filter(|l| l.contains("compat_spans"))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    // The first such callsite this hub saw: ours here, or, when other tests of this file ran
    // first in the same process, one of theirs (a new dispatcher is told every callsite that
    // already exists).
    assert!(
        warnings[0].contains("reqwest_tracing::middleware") || warnings[0].contains("otel::"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("built on tracing-opentelemetry"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("\"WARN\""), "{}", warnings[0]);
    telemetry.shutdown().unwrap();
}
