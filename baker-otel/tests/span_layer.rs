//! Behaviour of baker-otel's own `tracing` → OpenTelemetry span layer, asserted on the
//! `SpanData` the pipeline actually exports. Every test builds its own pipeline and runs under
//! `tracing::dispatcher::with_default`: no global subscriber, no one-test-per-process isolation.
use baker_otel::context::{BakerScope, CONVERSATION_ID, JOB_ID};
use baker_otel::{OpenTelemetrySpanExt, SetParentError, Telemetry};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags};
use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use std::time::{Duration, SystemTime};
use tracing::{Dispatch, Span};

#[path = "support/span_sink.rs"]
mod span_sink;
use span_sink::{remote_parent, Sink};

struct Pipeline {
    telemetry: Telemetry,
    dispatch: Dispatch,
    sink: Sink,
}

impl Pipeline {
    fn new() -> Self {
        Self::with_env(&[])
    }

    fn with_env(extra: &[(&str, &str)]) -> Self {
        let (telemetry, dispatch, sink) = span_sink::pipeline(extra);
        Self {
            telemetry,
            dispatch,
            sink,
        }
    }

    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Everything exported so far (flushes first).
    fn spans(&self) -> Vec<SpanData> {
        self.telemetry.force_flush().expect("flush");
        self.sink.0.lock().unwrap().clone()
    }

    #[track_caller]
    fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let names: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
        spans
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span named {name:?}; exported: {names:?}"))
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.telemetry.shutdown();
    }
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::new(key.to_owned()))
        .map(|kv| kv.value.clone())
}

/// Every value exported under `key` (a key set twice would show twice).
fn attr_values(span: &SpanData, key: &str) -> Vec<Value> {
    span.attributes
        .iter()
        .filter(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
        .collect()
}

// 1. fields → attributes ---------------------------------------------------------------------

#[test]
fn typed_fields_become_typed_attributes() {
    let p = Pipeline::new();
    p.run(|| {
        let _s = tracing::info_span!(
            "typed",
            i = -7_i64,
            u = 42_u64,
            big = u64::MAX,
            f = 1.5_f64,
            b = true,
            s = "text",
            d = ?Some(3),
        );
    });
    let span = p.span("typed");
    assert_eq!(attr(&span, "i"), Some(Value::I64(-7)));
    assert_eq!(attr(&span, "u"), Some(Value::I64(42)));
    assert_eq!(
        attr(&span, "big"),
        Some(Value::String("18446744073709551615".into()))
    );
    assert_eq!(attr(&span, "f"), Some(Value::F64(1.5)));
    assert_eq!(attr(&span, "b"), Some(Value::Bool(true)));
    assert_eq!(attr(&span, "s"), Some(Value::String("text".into())));
    assert_eq!(attr(&span, "d"), Some(Value::String("Some(3)".into())));
    assert_eq!(span.attributes.len(), 7);
    assert_eq!(span.dropped_attributes_count, 0);
    assert_eq!(span.span_kind, SpanKind::Internal);
    assert_eq!(span.status, Status::Unset);
}

#[test]
fn otel_fields_set_name_kind_and_status() {
    let p = Pipeline::new();
    p.run(|| {
        let _s = tracing::info_span!(
            "original",
            otel.name = "GET /users",
            otel.kind = "server",
            otel.status_code = "ERROR",
            otel.status_description = "boom",
        );
    });
    let spans = p.spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, "GET /users");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.status, Status::error("boom"));
    // The otel.* fields are instructions, not attributes.
    assert!(
        span.attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("otel.")),
        "{:?}",
        span.attributes
    );
}

/// tracing-opentelemetry names the description `otel.status_message`; spans written for it keep
/// their status (and `otel.status_description` keeps working, above).
#[test]
fn tracing_opentelemetry_status_message_sets_the_status() {
    let p = Pipeline::new();
    p.run(|| {
        let _s = tracing::info_span!(
            "migrated",
            otel.status_code = "error",
            otel.status_message = "boom",
        );
        // Recorded later, and in the other order: the description still wins over the bare code.
        let late = tracing::info_span!(
            "late_status",
            otel.status_message = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        late.record("otel.status_message", "timeout");
        late.record("otel.status_code", "error");
    });
    let spans = p.spans();
    let by_name = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
    assert_eq!(by_name("migrated").status, Status::error("boom"));
    assert_eq!(by_name("late_status").status, Status::error("timeout"));
    for s in &spans {
        assert!(s.attributes.is_empty(), "{:?}", s.attributes);
    }
}

#[test]
fn fields_recorded_later_land_on_the_span() {
    let p = Pipeline::new();
    p.run(|| {
        let span = tracing::info_span!(
            "late",
            before_enter = tracing::field::Empty,
            while_entered = tracing::field::Empty,
            otel.name = tracing::field::Empty,
        );
        span.record("before_enter", 5_i64);
        span.in_scope(|| {
            Span::current().record("while_entered", "yes");
        });
        span.record("otel.name", "renamed later");
    });
    let span = p.span("renamed later");
    assert_eq!(attr(&span, "before_enter"), Some(Value::I64(5)));
    assert_eq!(
        attr(&span, "while_entered"),
        Some(Value::String("yes".into()))
    );
}

// 2. parentage -------------------------------------------------------------------------------

#[test]
fn child_of_entered_parent_inherits_trace_and_parent_id() {
    let p = Pipeline::new();
    p.run(|| {
        let parent = tracing::info_span!("parent");
        parent.in_scope(|| {
            let _child = tracing::info_span!("child");
        });
    });
    let parent = p.span("parent");
    let child = p.span("child");
    assert!(parent.span_context.is_valid());
    assert_eq!(parent.parent_span_id, SpanId::INVALID);
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id()
    );
    assert_eq!(child.parent_span_id, parent.span_context.span_id());
    assert!(!child.parent_span_is_remote);
    assert_ne!(child.span_context.span_id(), parent.span_context.span_id());
}

#[test]
fn explicit_parent_never_entered_is_the_parent() {
    let p = Pipeline::new();
    p.run(|| {
        let parent = tracing::info_span!("explicit parent");
        let _child = tracing::info_span!(parent: &parent, "explicit child");
        // Another span is current: the explicit parent must win over it.
        tracing::info_span!("unrelated").in_scope(|| {
            let _c2 = tracing::info_span!(parent: &parent, "explicit child 2");
        });
    });
    let parent = p.span("explicit parent");
    for name in ["explicit child", "explicit child 2"] {
        let child = p.span(name);
        assert_eq!(
            child.span_context.trace_id(),
            parent.span_context.trace_id(),
            "{name}"
        );
        assert_eq!(
            child.parent_span_id,
            parent.span_context.span_id(),
            "{name}"
        );
        assert!(!child.parent_span_is_remote, "{name}");
    }
}

#[test]
fn explicit_root_inside_entered_span_starts_a_new_trace() {
    let p = Pipeline::new();
    p.run(|| {
        tracing::info_span!("outer").in_scope(|| {
            let _root = tracing::info_span!(parent: None, "detached root");
        });
    });
    let outer = p.span("outer");
    let root = p.span("detached root");
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    assert_ne!(root.span_context.trace_id(), outer.span_context.trace_id());
}

#[test]
fn follows_from_adds_a_link() {
    let p = Pipeline::new();
    p.run(|| {
        let cause = tracing::info_span!("cause");
        let effect = tracing::info_span!("effect");
        effect.follows_from(&cause);
    });
    let cause = p.span("cause");
    let effect = p.span("effect");
    assert_eq!(effect.links.links.len(), 1);
    assert_eq!(effect.links.links[0].span_context, cause.span_context);
    assert_eq!(effect.links.dropped_count, 0);
    // A link, not a parent.
    assert_eq!(effect.parent_span_id, SpanId::INVALID);
}

// 3. context activation ----------------------------------------------------------------------

#[test]
fn entered_span_is_the_current_otel_context() {
    let p = Pipeline::new();
    let (inside, outside) = p.run(|| {
        let span = tracing::info_span!("active");
        let inside = span.in_scope(|| {
            let current = Context::current().span().span_context().clone();
            assert_eq!(&current, span.context().span().span_context());
            Context::current()
                .span()
                .set_attribute(KeyValue::new("k", "v"));
            current
        });
        let outside = Context::current().span().span_context().clone();
        (inside, outside)
    });
    assert!(inside.is_valid());
    assert!(!outside.is_valid(), "context detached on exit");
    let span = p.span("active");
    assert_eq!(span.span_context, inside);
    assert_eq!(attr(&span, "k"), Some(Value::String("v".into())));
}

// 4. set_parent ------------------------------------------------------------------------------

#[test]
fn set_parent_with_remote_sampled_context() {
    let p = Pipeline::new();
    let remote = remote_parent(TraceFlags::SAMPLED);
    p.run(|| {
        let span = tracing::info_span!("consumer");
        span.set_parent(Context::new().with_remote_span_context(remote.clone()))
            .expect("fresh span");
        span.in_scope(|| {
            let _child = tracing::info_span!("consumer child");
        });
    });
    let span = p.span("consumer");
    assert_eq!(span.span_context.trace_id(), remote.trace_id());
    assert_eq!(span.parent_span_id, remote.span_id());
    assert!(span.parent_span_is_remote);
    assert!(!span.span_context.is_remote());
    assert!(span.span_context.is_sampled());
    let child = p.span("consumer child");
    assert_eq!(child.span_context.trace_id(), remote.trace_id());
    assert_eq!(child.parent_span_id, span.span_context.span_id());
    assert!(!child.parent_span_is_remote);
}

#[test]
fn set_parent_after_enter_is_refused() {
    let p = Pipeline::new();
    let remote = remote_parent(TraceFlags::SAMPLED);
    p.run(|| {
        let span = tracing::info_span!("too late");
        span.in_scope(|| {});
        assert_eq!(
            span.set_parent(Context::new().with_remote_span_context(remote.clone())),
            Err(SetParentError::AlreadyStarted)
        );
        let taken = tracing::info_span!("context taken");
        let _cx = taken.context();
        assert_eq!(
            taken.set_parent(Context::new().with_remote_span_context(remote.clone())),
            Err(SetParentError::AlreadyStarted)
        );
        // A child made with an explicit parent carries the parent's trace id already.
        let parent = tracing::info_span!("has a child");
        let _child = tracing::info_span!(parent: &parent, "explicit child");
        assert_eq!(
            parent.set_parent(Context::new().with_remote_span_context(remote.clone())),
            Err(SetParentError::AlreadyStarted)
        );
        // So does a span that follows from it.
        let followed = tracing::info_span!("followed");
        tracing::info_span!("follower").follows_from(&followed);
        assert_eq!(
            followed.set_parent(Context::new().with_remote_span_context(remote.clone())),
            Err(SetParentError::AlreadyStarted)
        );
    });
    for name in ["too late", "context taken", "has a child", "followed"] {
        let span = p.span(name);
        assert_ne!(span.span_context.trace_id(), remote.trace_id(), "{name}");
        assert_eq!(span.parent_span_id, SpanId::INVALID, "{name}");
    }
}

#[test]
fn set_parent_with_unsampled_remote_drops_but_propagates() {
    let p = Pipeline::new();
    let remote = remote_parent(TraceFlags::default());
    let sc = p.run(|| {
        let span = tracing::info_span!("unsampled");
        span.set_parent(Context::new().with_remote_span_context(remote.clone()))
            .expect("fresh span");
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        span.in_scope(|| {
            let _child = tracing::info_span!("unsampled child");
        });
        sc
    });
    assert_eq!(sc.trace_id(), remote.trace_id());
    assert!(!sc.is_sampled());
    assert!(sc.is_valid());
    assert!(p.spans().is_empty(), "{:?}", p.spans());
}

// 5. ext methods -----------------------------------------------------------------------------

#[test]
fn ext_methods_reach_the_exported_span() {
    let p = Pipeline::new();
    let before = SystemTime::now();
    p.run(|| {
        let span = tracing::info_span!("ext");
        span.set_attribute("app.tenant", "acme");
        span.set_status(Status::Ok);
        span.set_status(Status::error("late failure"));
        span.add_event("tool called", vec![KeyValue::new("tool", "search")]);
        span.add_link(SpanContext::empty_context());
        span.add_link_with_attributes(SpanContext::empty_context(), vec![KeyValue::new("x", 1)]);
        let linked = remote_parent(TraceFlags::SAMPLED);
        span.add_link_with_attributes(linked, vec![KeyValue::new("why", "retry")]);
        // And once the span is live (entered), too.
        span.in_scope(|| span.set_attribute("app.live", 3_i64));
    });
    let span = p.span("ext");
    assert_eq!(
        attr(&span, "app.tenant"),
        Some(Value::String("acme".into()))
    );
    assert_eq!(attr(&span, "app.live"), Some(Value::I64(3)));
    assert_eq!(span.status, Status::Ok, "Ok is never downgraded");
    assert_eq!(span.events.events.len(), 1);
    let event = &span.events.events[0];
    assert_eq!(event.name, "tool called");
    assert_eq!(event.attributes, vec![KeyValue::new("tool", "search")]);
    assert!(event.timestamp >= before);
    assert_eq!(span.links.links.len(), 1, "invalid contexts are ignored");
    assert_eq!(
        span.links.links[0].span_context,
        remote_parent(TraceFlags::SAMPLED)
    );
    assert_eq!(
        span.links.links[0].attributes,
        vec![KeyValue::new("why", "retry")]
    );
    assert_eq!(span.links.dropped_count, 0);
}

// 6. limits ----------------------------------------------------------------------------------

#[test]
fn attribute_count_limit_drops_and_counts() {
    let p = Pipeline::with_env(&[("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2")]);
    p.run(|| {
        let _s = tracing::info_span!("limited", a = 1, b = 2, c = 3, d = 4);
    });
    let span = p.span("limited");
    assert_eq!(span.attributes.len(), 2, "{:?}", span.attributes);
    assert_eq!(span.dropped_attributes_count, 2);
    assert_eq!(attr(&span, "a"), Some(Value::I64(1)));
    assert_eq!(attr(&span, "b"), Some(Value::I64(2)));
}

// 7. Baker ids -------------------------------------------------------------------------------

#[test]
fn baker_ids_in_scope_become_span_attributes() {
    let p = Pipeline::new();
    p.run(|| {
        BakerScope::current()
            .conversation_id("c1")
            .job_id("j1")
            .in_scope(|| {
                let _s = tracing::info_span!("with ids");
                tracing::info_span!("entered with ids").in_scope(|| {
                    let _nested = tracing::info_span!("nested with ids");
                });
            });
        let _s = tracing::info_span!("without ids");
    });
    for name in ["with ids", "entered with ids", "nested with ids"] {
        let span = p.span(name);
        assert_eq!(
            attr(&span, CONVERSATION_ID),
            Some(Value::String("c1".into())),
            "{name}"
        );
        assert_eq!(
            attr(&span, JOB_ID),
            Some(Value::String("j1".into())),
            "{name}"
        );
    }
    assert_eq!(CONVERSATION_ID, "gen_ai.conversation.id");
    assert_eq!(JOB_ID, "baker.job.id");
    let plain = p.span("without ids");
    assert_eq!(attr(&plain, CONVERSATION_ID), None);
    assert_eq!(attr(&plain, JOB_ID), None);
}

/// A span that names its own conversation keeps it: the id inherited from the parent's
/// baggage is added only when the span did not set that attribute itself, and an id recorded
/// on the active span by a later `BakerScope` replaces the value instead of adding a second one.
#[test]
fn explicit_ids_win_over_baggage_and_are_never_duplicated() {
    let p = Pipeline::new();
    p.run(|| {
        BakerScope::current().conversation_id("c1").in_scope(|| {
            let _own = tracing::info_span!("own id", gen_ai.conversation.id = "mine");
            tracing::info_span!("scoped later").in_scope(|| {
                BakerScope::current().conversation_id("c2").in_scope(|| {});
            });
        });
    });
    let own = p.span("own id");
    let ids = attr_values(&own, CONVERSATION_ID);
    assert_eq!(ids, vec![Value::String("mine".into())]);
    let later = p.span("scoped later");
    let ids = attr_values(&later, CONVERSATION_ID);
    assert_eq!(
        ids,
        vec![Value::String("c2".into())],
        "{:?}",
        later.attributes
    );
}

/// `set_attribute` on a key that is already there keeps one value, the last.
#[test]
fn set_attribute_twice_keeps_the_last_value() {
    let p = Pipeline::new();
    p.run(|| {
        let span = tracing::info_span!("twice");
        span.set_attribute("app.tenant", "a");
        span.set_attribute("app.tenant", "b");
        span.in_scope(|| {
            opentelemetry::Context::current()
                .span()
                .set_attribute(opentelemetry::KeyValue::new("app.tenant", "c"));
        });
    });
    let span = p.span("twice");
    let values = attr_values(&span, "app.tenant");
    assert_eq!(values, vec![Value::String("c".into())]);
}

// 8. shutdown and foreign dispatchers --------------------------------------------------------

#[test]
fn spans_after_shutdown_are_not_exported_and_do_not_panic() {
    let p = Pipeline::new();
    p.run(|| {
        let _s = tracing::info_span!("before shutdown");
    });
    assert_eq!(p.spans().len(), 1);
    p.telemetry.shutdown().expect("shutdown");
    p.run(|| {
        let span = tracing::info_span!("after shutdown", n = 1);
        span.set_attribute("k", "v");
        span.add_event("e", Vec::new());
        span.in_scope(|| {
            let _child = tracing::info_span!("child after shutdown");
            Context::current()
                .span()
                .set_attribute(KeyValue::new("x", 1));
        });
        let _ = span.context();
    });
    let _ = p.telemetry.force_flush();
    let names: Vec<String> = p
        .sink
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, vec!["before shutdown".to_string()]);
}

#[test]
fn spans_without_baker_otel_have_no_context() {
    let remote = remote_parent(TraceFlags::SAMPLED);
    for dispatch in [
        Dispatch::none(),
        Dispatch::new(tracing_subscriber::registry()),
    ] {
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("foreign");
            assert!(!span.context().span().span_context().is_valid());
            assert_eq!(
                span.set_parent(Context::new().with_remote_span_context(remote.clone())),
                Err(SetParentError::LayerNotFound)
            );
            // The other methods are silently ignored.
            span.set_attribute("k", "v");
            span.set_status(Status::Ok);
            span.add_event("e", Vec::new());
            span.add_link(remote.clone());
            span.in_scope(|| {
                assert!(!Context::current().span().span_context().is_valid());
            });
        });
    }
}

#[test]
fn disabled_span_yields_layer_not_found() {
    // RUST_LOG=info: a debug span is disabled by the filter.
    let p = Pipeline::with_env(&[("RUST_LOG", "info")]);
    p.run(|| {
        let span = tracing::debug_span!("filtered out");
        assert!(span.is_disabled());
        assert!(!span.context().span().span_context().is_valid());
        assert_eq!(
            span.set_parent(Context::new()),
            Err(SetParentError::LayerNotFound)
        );
    });
    assert!(p.spans().is_empty());
}

// 9. end time --------------------------------------------------------------------------------

#[test]
fn span_ends_at_its_last_exit_not_at_drop() {
    let p = Pipeline::new();
    let (after_exit, before_drop) = p.run(|| {
        let span = tracing::info_span!("ends at exit");
        span.in_scope(|| {});
        let after_exit = SystemTime::now();
        std::thread::sleep(Duration::from_millis(20));
        let before_drop = SystemTime::now();
        drop(span);
        (after_exit, before_drop)
    });
    let span = p.span("ends at exit");
    assert!(span.start_time <= span.end_time);
    assert!(span.end_time <= after_exit, "ended at the exit");
    assert!(span.end_time <= before_drop);
}

#[test]
fn live_span_also_ends_at_its_last_exit() {
    // Same, for a span whose context was handed out (the record is shared with the Context).
    let p = Pipeline::new();
    let (cx, after_exit) = p.run(|| {
        let span = tracing::info_span!("live ends at exit");
        let cx = span.context();
        span.in_scope(|| {});
        let after_exit = SystemTime::now();
        std::thread::sleep(Duration::from_millis(20));
        drop(span);
        (cx, after_exit)
    });
    let span = p.span("live ends at exit");
    assert!(span.end_time <= after_exit);
    // The context outliving the span does not keep it recording.
    assert!(!cx.span().is_recording());
}

// Extra probes -------------------------------------------------------------------------------

#[test]
fn set_parent_carries_the_parent_baggage_ids() {
    let p = Pipeline::new();
    let remote = remote_parent(TraceFlags::SAMPLED);
    let inside = p.run(|| {
        let cx = BakerScope::from_context(Context::new().with_remote_span_context(remote.clone()))
            .conversation_id("c9")
            .context();
        let span = tracing::info_span!("with remote ids");
        span.set_parent(cx).expect("fresh span");
        span.in_scope(baker_otel::context::conversation_id)
    });
    assert_eq!(inside.as_deref(), Some("c9"));
    let span = p.span("with remote ids");
    assert_eq!(span.parent_span_id, remote.span_id());
    assert_eq!(
        attr(&span, CONVERSATION_ID),
        Some(Value::String("c9".into()))
    );
}

#[test]
fn event_and_link_count_limits_drop_and_count() {
    let p = Pipeline::with_env(&[
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "1"),
    ]);
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    p.run(|| {
        let span = tracing::info_span!("many");
        span.add_event_with_timestamp("first", at, Vec::new());
        span.add_event("second", Vec::new());
        span.add_link(remote_parent(TraceFlags::SAMPLED));
        span.add_link(remote_parent(TraceFlags::default()));
    });
    let span = p.span("many");
    assert_eq!(span.events.events.len(), 1);
    assert_eq!(span.events.events[0].name, "first");
    assert_eq!(span.events.events[0].timestamp, at);
    assert_eq!(span.events.dropped_count, 1);
    assert_eq!(span.links.links.len(), 1);
    assert_eq!(span.links.dropped_count, 1);
}

/// Recording a field that already has a value replaces it (OTel: setting an existing key
/// "SHOULD overwrite"), instead of exporting both values.
#[test]
fn re_recording_a_field_overwrites_it() {
    let p = Pipeline::new();
    p.run(|| {
        let span = tracing::info_span!("rerecord", status = 0_i64);
        span.record("status", 200_i64);
    });
    let span = p.span("rerecord");
    let values = attr_values(&span, "status");
    assert_eq!(values, vec![Value::I64(200)], "{:?}", span.attributes);
}

/// A root span the sampler dropped (here parentbased_always_off; in production
/// parentbased_traceidratio) and then re-parented under a *sampled* remote parent — a NATS
/// consumer span — is exported with the fields, `otel.name` and `otel.kind` it was created with.
#[test]
fn set_parent_on_a_sampled_out_root_keeps_its_fields() {
    let p = Pipeline::with_env(&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")]);
    let remote = remote_parent(TraceFlags::SAMPLED);
    p.run(|| {
        let span = tracing::info_span!(
            "consume",
            otel.name = "orders process",
            otel.kind = "consumer",
            messaging.system = "nats",
        );
        span.set_parent(Context::new().with_remote_span_context(remote.clone()))
            .expect("fresh span");
    });
    let spans = p.spans();
    assert_eq!(spans.len(), 1, "sampled through the remote parent");
    let span = &spans[0];
    assert_eq!(span.span_context.trace_id(), remote.trace_id());
    assert_eq!(span.parent_span_id, remote.span_id());
    assert_eq!(span.name, "orders process");
    assert_eq!(span.span_kind, SpanKind::Consumer);
    assert_eq!(
        attr(span, "messaging.system"),
        Some(Value::String("nats".into()))
    );
}

/// An `ERROR` event fails the span it belongs to — the current one, or its explicit parent —
/// as with tracing-opentelemetry; an `Ok` status stays, and a warning fails nothing.
#[test]
fn an_error_event_sets_its_spans_status() {
    let p = Pipeline::new();
    p.run(|| {
        tracing::info_span!("plain").in_scope(|| tracing::error!("failed"));
        // `#[instrument(err)]`'s event: no message, the error as `error = %e`.
        tracing::info_span!("described").in_scope(|| tracing::error!(error = %"disk on fire"));
        tracing::info_span!("ok", otel.status_code = "ok").in_scope(|| tracing::error!("x"));
        tracing::info_span!("warned").in_scope(|| tracing::warn!(error = %"slow"));
        let target = tracing::info_span!("target");
        tracing::info_span!("bystander").in_scope(|| tracing::error!(parent: &target, "x"));
    });
    assert_eq!(p.span("plain").status, Status::error(""));
    assert_eq!(p.span("described").status, Status::error("disk on fire"));
    assert_eq!(p.span("ok").status, Status::Ok);
    assert_eq!(p.span("warned").status, Status::Unset);
    assert_eq!(p.span("target").status, Status::error(""));
    assert_eq!(p.span("bystander").status, Status::Unset);
}

/// An event with an explicit parent is logged — JSON line and OTLP log record — with that
/// span's trace and span ids, not the current span's.
#[test]
fn an_event_with_an_explicit_parent_is_logged_in_that_span() {
    let capture = baker_otel::testing::Capture::new();
    capture.in_scope(|| {
        let parent = tracing::info_span!("parent");
        tracing::info_span!("current").in_scope(|| tracing::info!(parent: &parent, "explicit"));
    });
    let sc = capture.span("parent").span_context;
    let line = &capture.json_lines()[0];
    assert_eq!(line["message"], "explicit");
    assert_eq!(line["trace_id"], sc.trace_id().to_string());
    assert_eq!(line["span_id"], sc.span_id().to_string());
    let logs = capture.logs();
    let tc = logs[0].record.trace_context().expect("trace context");
    assert_eq!((tc.trace_id, tc.span_id), (sc.trace_id(), sc.span_id()));
}
