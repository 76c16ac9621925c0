//! Differential test against the peer: the same `tracing` programs run under baker-otel's own
//! span layer and under tracing-opentelemetry 0.34 + the SDK, and what each exports is compared
//! span by span, field by field (name, kind, trace, parent, attributes with their types,
//! status, links, the peer's span events against baker-otel's log records, the order of every
//! timestamp). Every difference must be listed in [`ALLOWED`] with its reason — the README's
//! table "Differences from tracing-opentelemetry" — so a new one fails the test.
//!
//! Each pipeline runs under `tracing::dispatcher::with_default`: no global subscriber.

use opentelemetry::trace::TraceState;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId};
use opentelemetry::{Context, KeyValue};
use std::error::Error;
use std::fmt;
use tracing::field::Empty;
use tracing::{debug, error, info, info_span, trace, warn, Instrument as _, Span};

#[path = "support/differential.rs"]
mod differential;
use differential::{compare, run_ours, run_theirs, Diff, Side, V};

// ---------------------------------------------------------------------------------------------
// The two extension traits, behind one interface the programs call.

/// What a program does through its pipeline's `OpenTelemetrySpanExt`.
trait Ext {
    fn set_parent(&self, span: &Span, cx: Context);
    fn add_link(&self, span: &Span, sc: SpanContext);
    fn add_link_with_attributes(&self, span: &Span, sc: SpanContext, attrs: Vec<KeyValue>);
    fn context(&self, span: &Span) -> Context;
}

/// `baker_otel::OpenTelemetrySpanExt`.
struct Ours;
/// `tracing_opentelemetry::OpenTelemetrySpanExt`.
struct Theirs;

impl Ext for Ours {
    fn set_parent(&self, span: &Span, cx: Context) {
        baker_otel::OpenTelemetrySpanExt::set_parent(span, cx).expect("set_parent (ours)");
    }
    fn add_link(&self, span: &Span, sc: SpanContext) {
        baker_otel::OpenTelemetrySpanExt::add_link(span, sc);
    }
    fn add_link_with_attributes(&self, span: &Span, sc: SpanContext, attrs: Vec<KeyValue>) {
        baker_otel::OpenTelemetrySpanExt::add_link_with_attributes(span, sc, attrs);
    }
    fn context(&self, span: &Span) -> Context {
        baker_otel::OpenTelemetrySpanExt::context(span)
    }
}

impl Ext for Theirs {
    fn set_parent(&self, span: &Span, cx: Context) {
        tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(span, cx)
            .expect("set_parent (theirs)");
    }
    fn add_link(&self, span: &Span, sc: SpanContext) {
        tracing_opentelemetry::OpenTelemetrySpanExt::add_link(span, sc);
    }
    fn add_link_with_attributes(&self, span: &Span, sc: SpanContext, attrs: Vec<KeyValue>) {
        tracing_opentelemetry::OpenTelemetrySpanExt::add_link_with_attributes(span, sc, attrs);
    }
    fn context(&self, span: &Span) -> Context {
        tracing_opentelemetry::OpenTelemetrySpanExt::context(span)
    }
}

// ---------------------------------------------------------------------------------------------
// The programs: plain `tracing`, plus the extension trait for remote parents and links.

type Program = fn(&dyn Ext);

/// Parent, child, grandchild, siblings, explicit parents, a new root inside a span, a span
/// never entered and one entered twice.
fn nesting(_: &dyn Ext) {
    let root = info_span!("root");
    root.in_scope(|| {
        let child = tracing::debug_span!("child");
        child.in_scope(|| {
            tracing::trace_span!("grandchild").in_scope(|| {});
        });
        info_span!("sibling").in_scope(|| {});
        let _new_root = info_span!(parent: None, "new_root").entered();
    });
    drop(info_span!(parent: &root, "explicit_child"));
    drop(info_span!("never_entered"));
    let twice = tracing::warn_span!("entered_twice");
    twice.in_scope(|| {});
    twice.in_scope(|| {});
    drop(twice);
    drop(root);
}

#[tracing::instrument(fields(extra = 1_i64))]
async fn fetch(id: u64, label: &str) -> u64 {
    tokio::task::yield_now().await;
    info!(id, "fetched");
    id
}

#[tracing::instrument(err)]
async fn may_fail(fail: bool) -> Result<u32, std::io::Error> {
    tokio::task::yield_now().await;
    if fail {
        Err(std::io::Error::other("disk on fire"))
    } else {
        Ok(1)
    }
}

#[tracing::instrument(skip_all, name = "renamed_async", level = "debug", ret)]
async fn returns(_ignored: u8) -> i64 {
    7
}

/// `#[instrument]` (fields, `err`, `ret`, `name`, `skip_all`), `.instrument()`, `join!`, a
/// spawned task, on a current-thread runtime.
fn async_instrument(_: &dyn Ext) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let outer = info_span!("outer_async");
        async {
            let (a, b) = tokio::join!(fetch(1, "one"), fetch(2, "two"));
            info!(sum = a + b, "joined");
            let _ = may_fail(true).await;
            let _ = may_fail(false).await;
            let _ = returns(0).await;
        }
        .instrument(outer)
        .await;
        tokio::spawn(async { info!("in task") }.instrument(info_span!("spawned")))
            .await
            .expect("task");
    });
}

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug`
struct Point {
    x: i32,
    y: i32,
}

/// Fields of every type, `Empty` then `record`, a field recorded twice.
fn fields(_: &dyn Ext) {
    let point = Point { x: 1, y: -2 };
    let owned = String::from("owned");
    let span = info_span!(
        "fields",
        int = -7_i64,
        int32 = -3_i32,
        small_u64 = 42_u64,
        max_i64_as_u64 = i64::MAX as u64,
        big_u64 = u64::MAX,
        byte = 7_u8,
        big_i128 = -(1_i128 << 100),
        big_u128 = 1_u128 << 100,
        float = 1.5_f64,
        float32 = 0.25_f32,
        flag = true,
        text = "hello",
        owned = owned.as_str(),
        debug = ?point,
        display = %"shown",
        some = Some(3_i64),
        none = None::<i64>,
        late = Empty,
        late_int = Empty,
        twice = 1_i64,
        retyped = 1_i64,
        never = Empty,
    );
    span.record("late", "recorded later");
    span.in_scope(|| {
        span.record("late_int", 5_u64);
        span.record("twice", 2_i64);
        span.record("retyped", "now a string");
    });
}

/// `otel.name` at creation (str and Display) and recorded later.
fn otel_name(_: &dyn Ext) {
    info_span!("static_name", otel.name = "dynamic name").in_scope(|| {});
    info_span!("display_name", otel.name = %format_args!("GET /items/{}", 3)).in_scope(|| {});
    let late = info_span!("late_name", otel.name = Empty);
    late.in_scope(|| {
        late.record("otel.name", "renamed late");
    });
    let before = info_span!("recorded_before_entering", otel.name = Empty);
    before.record("otel.name", "renamed before entering");
    before.in_scope(|| {});
}

/// `otel.kind`: each kind, other spellings, an unknown value, one recorded later.
fn otel_kind(_: &dyn Ext) {
    info_span!("server", otel.kind = "server").in_scope(|| {});
    info_span!("client", otel.kind = "client").in_scope(|| {});
    info_span!("producer", otel.kind = "producer").in_scope(|| {});
    info_span!("consumer", otel.kind = "consumer").in_scope(|| {});
    info_span!("internal", otel.kind = "internal").in_scope(|| {});
    info_span!("upper", otel.kind = "SERVER").in_scope(|| {});
    info_span!("debug_kind", otel.kind = ?opentelemetry::trace::SpanKind::Client).in_scope(|| {});
    info_span!("unknown", otel.kind = "sideways").in_scope(|| {});
    let late = info_span!("late_kind", otel.kind = Empty);
    late.record("otel.kind", "producer");
    late.in_scope(|| {});
}

/// `otel.status_code`, `otel.status_description`, `otel.status_message`, alone and together,
/// at creation and recorded later.
fn otel_status(_: &dyn Ext) {
    info_span!("code_ok", otel.status_code = "ok").in_scope(|| {});
    info_span!("code_error", otel.status_code = "error").in_scope(|| {});
    info_span!("code_upper", otel.status_code = "ERROR").in_scope(|| {});
    info_span!("code_unknown", otel.status_code = "maybe").in_scope(|| {});
    info_span!("description", otel.status_description = "went wrong").in_scope(|| {});
    info_span!("message", otel.status_message = "went wrong").in_scope(|| {});
    info_span!(
        "error_and_description",
        otel.status_code = "error",
        otel.status_description = "bad input"
    )
    .in_scope(|| {});
    info_span!(
        "error_and_message",
        otel.status_code = "error",
        otel.status_message = "bad input"
    )
    .in_scope(|| {});
    info_span!(
        "ok_and_description",
        otel.status_code = "ok",
        otel.status_description = "fine?"
    )
    .in_scope(|| {});
    let late = info_span!(
        "late_status",
        otel.status_code = Empty,
        otel.status_message = Empty
    );
    late.in_scope(|| {
        late.record("otel.status_code", "error");
        late.record("otel.status_message", "late failure");
    });
}

/// The W3C example trace (`4bf92f35…4736`) with span `span` as a remote span context.
fn remote(span: u64, flags: TraceFlags) -> SpanContext {
    SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        SpanId::from(span),
        flags,
        true,
        TraceState::default(),
    )
}

/// `set_parent` with a sampled and an unsampled remote parent, and with a local span's
/// context; children and events under each.
fn remote_parents(ext: &dyn Ext) {
    let sampled = Context::new().with_remote_span_context(remote(0xa1, TraceFlags::SAMPLED));
    let server = info_span!("server", otel.kind = "server");
    ext.set_parent(&server, sampled);
    server.in_scope(|| {
        info_span!("handler").in_scope(|| info!("handled"));
    });
    drop(server);

    let unsampled = Context::new().with_remote_span_context(remote(0xa2, TraceFlags::default()));
    let dropped = info_span!("unsampled_server");
    ext.set_parent(&dropped, unsampled);
    dropped.in_scope(|| {
        info_span!("unsampled_child").in_scope(|| info!("under an unsampled parent"));
    });
    drop(dropped);

    let local = info_span!("local_parent");
    let adopted = info_span!("adopted");
    ext.set_parent(&adopted, ext.context(&local));
    adopted.in_scope(|| {});
    drop(adopted);
    drop(local);
}

/// `add_link`, `add_link_with_attributes`, an invalid link, `follows_from`.
fn links(ext: &dyn Ext) {
    let first = info_span!("first");
    first.in_scope(|| {});
    let second = info_span!("second");
    second.follows_from(&first);
    ext.add_link(&second, remote(0xb1, TraceFlags::SAMPLED));
    ext.add_link_with_attributes(
        &second,
        remote(0xb2, TraceFlags::default()),
        vec![
            KeyValue::new("link.reason", "batch"),
            KeyValue::new("n", 2_i64),
        ],
    );
    ext.add_link(&second, SpanContext::empty_context());
    second.in_scope(|| {});
    let third = info_span!("third");
    third.in_scope(|| {});
    // Linked after it was entered.
    third.follows_from(&second);
}

#[derive(Debug)]
struct Outer(Inner);
#[derive(Debug)]
struct Inner;

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request failed")
    }
}
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset")
    }
}
impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl Error for Inner {}

/// `error` fields (`&dyn Error` at creation and recorded later, `%e`), `error!` events.
fn errors(_: &dyn Ext) {
    let e = Outer(Inner);
    let span = info_span!("failing", error = &e as &dyn Error);
    span.in_scope(|| {
        error!(error = &e as &dyn Error, "operation failed");
    });
    drop(span);
    let late = info_span!("late_error", error = Empty);
    late.record("error", &e as &dyn Error);
    late.in_scope(|| {});
    drop(late);
    info_span!("error_event").in_scope(|| error!("plain error event"));
    info_span!("error_without_message").in_scope(|| error!(error = %e));
    info_span!("error_with_message").in_scope(|| error!(error = %e, "with a message"));
    info_span!("str_error_without_message").in_scope(|| error!(error = "boom"));
    info_span!("dyn_error_without_message").in_scope(|| error!(error = &e as &dyn Error));
    info_span!("two_errors").in_scope(|| {
        error!(error = %"first");
        error!(error = %"second");
    });
    info_span!(
        "described_then_error",
        otel.status_description = "described"
    )
    .in_scope(|| error!(error = %"from the event"));
    info_span!("display_error_field", error = %e).in_scope(|| {});
    info_span!("error_then_ok", otel.status_code = "ok").in_scope(|| error!("after ok"));
    info_span!("warn_is_no_error").in_scope(|| warn!(error = %e));
    let explicit = info_span!("error_with_explicit_parent");
    info_span!("elsewhere").in_scope(|| error!(parent: &explicit, "explicit parent failed"));
}

/// Events with fields at each level, without a message, with a target, in a child span, and
/// outside any span.
fn events(_: &dyn Ext) {
    info_span!("with_events").in_scope(|| {
        info!(user = "ada", count = 3_i64, "user logged in");
        warn!(ratio = 0.5, ok = false, "slow");
        debug!(detail = ?[1, 2], "debug detail");
        trace!("trace detail");
        info!(only_field = 1_i64);
        info!(target: "custom_target", "custom target");
        info!(big = u64::MAX, display = %"shown", "typed fields");
        info_span!("inner").in_scope(|| info!("in inner"));
    });
    let explicit = info_span!("explicit_parent");
    info!(parent: &explicit, "with an explicit parent");
    info_span!("current").in_scope(|| {
        info!(parent: &explicit, "explicit parent, another span current");
        info!(parent: None, "explicit root, a span current");
    });
    explicit.in_scope(|| {});
    drop(explicit);
    info!("outside any span");
}

const PROGRAMS: &[(&str, Program)] = &[
    ("nesting", nesting),
    ("async_instrument", async_instrument),
    ("fields", fields),
    ("otel_name", otel_name),
    ("otel_kind", otel_kind),
    ("otel_status", otel_status),
    ("remote_parents", remote_parents),
    ("links", links),
    ("errors", errors),
    ("events", events),
];

// ---------------------------------------------------------------------------------------------
// The deliberate differences.

/// A deliberate difference: which diffs it covers, and why.
struct Allowed {
    what: &'static str,
    why: &'static str,
    matches: fn(&str, &Diff) -> bool,
}

/// An attribute only theirs has, on a span (`event: false`) or an event.
fn theirs_only(d: &Diff, keys: &[&str], event: bool) -> bool {
    match d {
        Diff::Attr { key, ours, .. } if !event => ours.is_empty() && keys.contains(&key.as_str()),
        Diff::EventAttr { key, ours, .. } if event => {
            ours.is_empty() && keys.contains(&key.as_str())
        }
        _ => false,
    }
}

/// The values of an attribute diff, on a span or an event.
fn values(d: &Diff) -> Option<(&str, &[V], &[V])> {
    match d {
        Diff::Attr {
            key, ours, theirs, ..
        }
        | Diff::EventAttr {
            key, ours, theirs, ..
        } => Some((key, ours, theirs)),
        _ => None,
    }
}

/// A status diff on span `name`.
fn status_of(d: &Diff, name: &str) -> bool {
    matches!(d, Diff::Status { span, .. } if span == name)
}

const LOCATION: &[&str] = &["code.file.path", "code.line.number", "code.module.name"];

/// The deliberate differences, each with its reason: the README's table. First match wins.
const ALLOWED: &[Allowed] = &[
    Allowed {
        what: "code location attributes",
        why: "tracing-opentelemetry's `with_location` is on by default; baker-otel records no \
              code location on spans or log records (three attributes, the same for every \
              span or event of a callsite)",
        matches: |_, d| theirs_only(d, LOCATION, false) || theirs_only(d, LOCATION, true),
    },
    Allowed {
        what: "`thread.id` / `thread.name` on spans",
        why: "tracing-opentelemetry's `with_threads` is on by default; baker-otel records no \
              thread (an async span moves between threads anyway)",
        matches: |_, d| theirs_only(d, &["thread.id", "thread.name"], false),
    },
    Allowed {
        what: "`target` attribute",
        why: "tracing-opentelemetry's `with_target` is on by default for spans and always on \
              for events; baker-otel's log records carry the target as their instrumentation \
              scope, spans do not repeat it",
        matches: |_, d| theirs_only(d, &["target"], false) || theirs_only(d, &["target"], true),
    },
    Allowed {
        what: "`busy_ns` / `idle_ns` on spans",
        why: "tracing-opentelemetry's `with_tracked_inactivity` is on by default; baker-otel \
              keeps start and end only (no clock reads on every enter and exit)",
        matches: |_, d| theirs_only(d, &["busy_ns", "idle_ns"], false),
    },
    Allowed {
        what: "a `u64` field that fits in `i64`",
        why: "tracing-opentelemetry records every `u64` as its decimal text; baker-otel keeps it \
              an integer when it fits (OTLP has no unsigned type; both use text above i64::MAX)",
        matches: |_, d| {
            values(d).is_some_and(|(_, ours, theirs)| match (ours, theirs) {
                ([V::I64(n)], [V::Str(t)]) => *n >= 0 && n.to_string() == *t,
                _ => false,
            })
        },
    },
    Allowed {
        what: "the source chain of an `&dyn Error` field as `exception.stacktrace`",
        why: "the source chain is not a stack trace: baker-otel keeps it under \
              `<field>.chain` only (on spans; log records follow opentelemetry-appender-tracing)",
        matches: |_, d| {
            theirs_only(d, &["exception.stacktrace"], false)
                || theirs_only(d, &["exception.stacktrace"], true)
        },
    },
    Allowed {
        what: "an event's `&dyn Error` field copied onto its span as `exception.message`",
        why: "tracing-opentelemetry's `error_records_to_exceptions`; with baker-otel the \
              exception is on the event's log record, the span keeps its own fields",
        matches: |_, d| match d {
            Diff::Attr {
                key, ours, theirs, ..
            } => key == "exception.message" && theirs.len() > ours.len(),
            _ => false,
        },
    },
    Allowed {
        what: "a field recorded again",
        why: "attribute keys are unique in OTLP: baker-otel replaces the value, \
              tracing-opentelemetry adds a second attribute with the same key",
        matches: |_, d| match d {
            Diff::Attr { ours, theirs, .. } => {
                theirs.len() > 1 && ours == &theirs[theirs.len() - 1..]
            }
            _ => false,
        },
    },
    Allowed {
        what: "`otel.name` recorded after the span was entered",
        why: "baker-otel renames the span; tracing-opentelemetry has started its span by then \
              and ignores the new name",
        matches: |p, d| p == "otel_name" && matches!(d, Diff::Name { .. }),
    },
    Allowed {
        what: "`otel.status_message`",
        why: "tracing-opentelemetry only knows `otel.status_description` and keeps \
              `otel.status_message` as an attribute; baker-otel reads both (migrations use the \
              former's name)",
        matches: |_, d| {
            theirs_only(d, &["otel.status_message"], false)
                || ["message", "error_and_message", "late_status"]
                    .iter()
                    .any(|s| status_of(d, s))
        },
    },
    Allowed {
        what: "`otel.status_description` after `otel.status_code = \"ok\"`",
        why: "Ok is final (OpenTelemetry's status order, which the SDK applies too); \
              tracing-opentelemetry lets a later field of the same span overwrite it",
        matches: |_, d| status_of(d, "ok_and_description"),
    },
    Allowed {
        what: "a string `error` field's text as the status description",
        why: "tracing-opentelemetry formats it with `Debug` (in quotes); baker-otel takes the \
              text as is",
        matches: |_, d| status_of(d, "str_error_without_message"),
    },
    Allowed {
        what: "a message-less event below ERROR with an `error` field",
        why: "tracing-opentelemetry sets its span's status to Error whatever the level; for \
              baker-otel only an ERROR event fails the span (a warning is not a failure, and \
              other events cost no field visit)",
        matches: |_, d| status_of(d, "warn_is_no_error"),
    },
    Allowed {
        what: "a message-less event with an `error` field renamed `exception`",
        why: "tracing-opentelemetry rewrites it into an `exception` span event with \
              `exception.message`; the log record keeps the fields as logged",
        matches: |_, d| match d {
            Diff::EventMessage { ours, theirs, .. } => ours.is_empty() && theirs == "exception",
            Diff::EventAttr {
                message,
                key,
                ours,
                theirs,
                ..
            } => {
                message.is_empty()
                    && ((key == "error" && theirs.is_empty())
                        || (key == "exception.message" && ours.is_empty()))
            }
            _ => false,
        },
    },
    Allowed {
        what: "an `&dyn Error` field of an event",
        why: "the log record gets what opentelemetry-appender-tracing records, \
              `exception.message` only; the span event also gets `<field>` and `<field>.chain`",
        matches: |_, d| theirs_only(d, &["error", "error.chain"], true),
    },
    Allowed {
        what: "an event without a message",
        why: "tracing-opentelemetry names the span event after the callsite (`event \
              file:line`); the log record has no body",
        matches: |_, d| {
            matches!(d, Diff::EventMessage { ours, theirs, .. }
                if ours.is_empty() && theirs.starts_with("event "))
        },
    },
    Allowed {
        what: "an event outside any span",
        why: "events are log records: exported without trace context; tracing-opentelemetry \
              drops an event with no span to attach it to",
        matches: |_, d| matches!(d, Diff::EventOnly { side: Side::Ours, span, .. } if span == "-"),
    },
    Allowed {
        what: "an event in a span that is sampled out",
        why: "log records are not sampled with traces: exported with the (unsampled) trace \
              context; tracing-opentelemetry's span event goes with its span",
        matches: |_, d| {
            matches!(d, Diff::EventOnly { side: Side::Ours, span, .. }
                if span.starts_with("unexported "))
        },
    },
    Allowed {
        what: "an event with `parent: None` while a span is current",
        why: "its log record keeps the context it was logged in (trace and Baker ids), as \
              opentelemetry-appender-tracing does; tracing-opentelemetry has no span for it",
        matches: |_, d| {
            matches!(d, Diff::EventOnly { side: Side::Ours, message, .. }
                if message.starts_with("explicit root"))
        },
    },
];

/// The diffs of `program` that no [`ALLOWED`] entry covers, with the indices of the entries
/// that matched something.
fn unexplained(program: &str, diffs: &[Diff]) -> (Vec<String>, Vec<usize>) {
    let mut used = Vec::new();
    let mut left = Vec::new();
    for d in diffs {
        match ALLOWED.iter().position(|a| (a.matches)(program, d)) {
            Some(i) => used.push(i),
            None => left.push(format!("{program}: {d}")),
        }
    }
    (left, used)
}

fn diffs_of(program: Program) -> Vec<Diff> {
    let ours = run_ours(|| program(&Ours));
    let theirs = run_theirs(|| program(&Theirs));
    compare(&ours, &theirs)
}

#[track_caller]
fn check(name: &str) {
    let program = PROGRAMS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("program")
        .1;
    let diffs = diffs_of(program);
    let (left, _) = unexplained(name, &diffs);
    assert!(
        left.is_empty(),
        "differences from tracing-opentelemetry not listed as deliberate:\n  {}",
        left.join("\n  ")
    );
}

#[test]
fn nesting_matches() {
    check("nesting");
}

#[test]
fn async_instrument_matches() {
    check("async_instrument");
}

#[test]
fn fields_match() {
    check("fields");
}

#[test]
fn otel_name_matches() {
    check("otel_name");
}

#[test]
fn otel_kind_matches() {
    check("otel_kind");
}

#[test]
fn otel_status_matches() {
    check("otel_status");
}

#[test]
fn remote_parents_match() {
    check("remote_parents");
}

#[test]
fn links_match() {
    check("links");
}

#[test]
fn errors_match() {
    check("errors");
}

#[test]
fn events_match() {
    check("events");
}

/// Every allow-list entry still covers a difference: one that disappeared is taken out of the
/// list (and the README table) rather than kept as a stale excuse.
#[test]
fn every_deliberate_difference_still_occurs() {
    let mut used = vec![false; ALLOWED.len()];
    for (name, program) in PROGRAMS {
        for i in unexplained(name, &diffs_of(*program)).1 {
            used[i] = true;
        }
    }
    let stale: Vec<&str> = ALLOWED
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(a, _)| a.what)
        .collect();
    assert!(stale.is_empty(), "allowed but no longer seen: {stale:?}");
}

/// The comparison itself sees each kind of difference: two different programs, both run
/// under baker-otel.
#[test]
fn the_comparison_sees_differences() {
    let a = run_ours(|| {
        let root = info_span!("root");
        root.in_scope(|| {
            info_span!("child", n = 1_i64).in_scope(|| info!(k = 1_i64, "event"));
        });
        drop(root);
        info_span!("late").in_scope(|| {});
    });
    let b = run_ours(|| {
        info_span!("late").in_scope(|| {});
        info_span!("root").in_scope(|| {});
        info_span!(
            "child",
            n = "1",
            otel.kind = "client",
            otel.status_code = "error"
        )
        .in_scope(|| warn!(k = 2_i64, "event"));
    });
    let found: Vec<String> = compare(&a, &b).iter().map(ToString::to_string).collect();
    for expected in [
        "child: kind ours Internal, theirs Client",
        "child: trace ours root root, theirs root child",
        "child: parent ours root, theirs none",
        "child: status ours Unset, theirs Error(\"\")",
        "child: attribute n: ours i64 1, theirs str \"1\"",
        "child: event \"event\" level ours INFO, theirs WARN",
        "child: event \"event\" attribute k: ours i64 1, theirs i64 2",
        "order: ours has start root before start late, theirs after",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected:?} not in {found:#?}"
        );
    }
}

/// Prints every difference of every program with the entry that allows it
/// (`cargo test --test differential -- --ignored --nocapture print_differences`).
#[test]
#[ignore = "diagnostic output only"]
fn print_differences() {
    for (name, program) in PROGRAMS {
        for d in diffs_of(*program) {
            let why = ALLOWED
                .iter()
                .find(|a| (a.matches)(name, &d))
                .map_or("NOT ALLOWED", |a| a.why);
            println!("{name}: {d}\n    -> {why}");
        }
    }
}
