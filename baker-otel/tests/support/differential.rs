//! The machinery of `tests/differential.rs`: the two pipelines, what their output is normalised
//! to, and the field-by-field comparison that yields a list of [`Diff`]s.
//!
//! Normalised away (they must differ): span and trace ids (a span is named by its pair's label,
//! a trace by its root's), timestamps (only their relative order is compared), instrumentation
//! scope and resource.

use baker_otel::testing::Capture;
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::trace::{SpanContext, SpanId, Status, TraceId, TracerProvider as _};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::logs::in_memory_exporter::LogDataWithResource;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;
use tracing_subscriber::layer::SubscriberExt as _;

/// Which pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// baker-otel's own span layer (`Capture`: the real pipeline into memory).
    Ours,
    /// tracing-opentelemetry 0.34 with its defaults + the SDK's tracer provider.
    Theirs,
}

/// An attribute value with its type.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(String),
    List(Vec<V>),
    Other(String),
}

impl fmt::Display for V {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V::Bool(b) => write!(f, "bool {b}"),
            V::I64(i) => write!(f, "i64 {i}"),
            V::F64(x) => write!(f, "f64 {x}"),
            V::Str(s) => write!(f, "str {s:?}"),
            V::List(l) => {
                let items: Vec<String> = l.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
            V::Other(s) => write!(f, "other {s}"),
        }
    }
}

fn value(v: &Value) -> V {
    match v {
        Value::Bool(b) => V::Bool(*b),
        Value::I64(i) => V::I64(*i),
        Value::F64(x) => V::F64(*x),
        Value::String(s) => V::Str(s.as_str().to_owned()),
        Value::Array(Array::Bool(l)) => V::List(l.iter().map(|b| V::Bool(*b)).collect()),
        Value::Array(Array::I64(l)) => V::List(l.iter().map(|i| V::I64(*i)).collect()),
        Value::Array(Array::F64(l)) => V::List(l.iter().map(|x| V::F64(*x)).collect()),
        Value::Array(Array::String(l)) => {
            V::List(l.iter().map(|s| V::Str(s.as_str().to_owned())).collect())
        }
        other => V::Other(format!("{other:?}")),
    }
}

fn any_value(v: &AnyValue) -> V {
    match v {
        AnyValue::Boolean(b) => V::Bool(*b),
        AnyValue::Int(i) => V::I64(*i),
        AnyValue::Double(x) => V::F64(*x),
        AnyValue::String(s) => V::Str(s.as_str().to_owned()),
        AnyValue::ListAny(l) => V::List(l.iter().map(any_value).collect()),
        other => V::Other(format!("{other:?}")),
    }
}

/// One exported span, ids still raw (they are turned into labels once spans are paired).
#[derive(Debug, Clone)]
pub struct RawSpan {
    pub name: String,
    pub kind: String,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: SpanId,
    pub parent_is_remote: bool,
    pub attributes: Vec<(String, V)>,
    pub status: String,
    pub links: Vec<(SpanContext, Vec<(String, V)>)>,
    pub start: SystemTime,
    pub end: SystemTime,
}

/// One event: a span event (theirs) or a log record (ours), with the span it points at.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// The span it belongs to (theirs: the span holding it; ours: the log record's span id).
    pub span: Option<(TraceId, SpanId)>,
    /// Theirs: the event's name; ours: the log record's body.
    pub message: String,
    /// Theirs: its `level` attribute (taken out of the attributes); ours: the severity text.
    pub level: String,
    pub attributes: Vec<(String, V)>,
    pub time: SystemTime,
}

/// What one pipeline exported for one program.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub spans: Vec<RawSpan>,
    pub events: Vec<RawEvent>,
}

fn attributes<'a>(kvs: impl IntoIterator<Item = &'a KeyValue>) -> Vec<(String, V)> {
    kvs.into_iter()
        .map(|kv| (kv.key.as_str().to_owned(), value(&kv.value)))
        .collect()
}

fn status(s: &Status) -> String {
    match s {
        Status::Unset => "Unset".to_owned(),
        Status::Ok => "Ok".to_owned(),
        Status::Error { description } => format!("Error({description:?})"),
    }
}

fn raw_span(s: &SpanData) -> RawSpan {
    RawSpan {
        name: s.name.to_string(),
        kind: format!("{:?}", s.span_kind),
        trace_id: s.span_context.trace_id(),
        span_id: s.span_context.span_id(),
        parent_span_id: s.parent_span_id,
        parent_is_remote: s.parent_span_is_remote,
        attributes: attributes(&s.attributes),
        status: status(&s.status),
        links: s
            .links
            .iter()
            .map(|l| (l.span_context.clone(), attributes(&l.attributes)))
            .collect(),
        start: s.start_time,
        end: s.end_time,
    }
}

/// Runs `program` under baker-otel's own span layer (the default pipeline, in memory).
pub fn run_ours(program: impl FnOnce()) -> Output {
    let capture = Capture::new();
    capture.in_scope(program);
    let spans = capture.spans().iter().map(raw_span).collect();
    let events = capture.logs().iter().map(log_event).collect();
    let _ = capture.telemetry().shutdown();
    Output { spans, events }
}

fn log_event(l: &LogDataWithResource) -> RawEvent {
    let r = &l.record;
    RawEvent {
        span: r.trace_context().map(|t| (t.trace_id, t.span_id)),
        message: r
            .body()
            .map(any_value)
            .map_or_else(String::new, |v| match v {
                V::Str(s) => s,
                other => other.to_string(),
            }),
        level: r
            .severity_text()
            .map(str::to_owned)
            .or_else(|| r.severity_number().map(|s: Severity| s.name().to_owned()))
            .unwrap_or_default(),
        attributes: r
            .attributes_iter()
            .map(|(k, v)| (k.as_str().to_owned(), any_value(v)))
            .collect(),
        time: r
            .timestamp()
            .or_else(|| r.observed_timestamp())
            .unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

/// Runs `program` under tracing-opentelemetry's layer (its defaults) + the SDK.
pub fn run_theirs(program: impl FnOnce()) -> Output {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("peer"))),
    );
    tracing::dispatcher::with_default(&dispatch, program);
    provider.force_flush().expect("flush");
    let data = exporter.get_finished_spans().expect("finished spans");
    let _ = provider.shutdown();
    let mut out = Output::default();
    for s in &data {
        out.spans.push(raw_span(s));
        for e in s.events.iter() {
            let mut attributes = attributes(&e.attributes);
            let level = attributes
                .iter()
                .position(|(k, _)| k == "level")
                .map(|at| match attributes.remove(at).1 {
                    V::Str(s) => s,
                    other => other.to_string(),
                })
                .unwrap_or_default();
            out.events.push(RawEvent {
                span: Some((s.span_context.trace_id(), s.span_context.span_id())),
                message: e.name.to_string(),
                level,
                attributes,
                time: e.timestamp,
            });
        }
    }
    out
}

/// One difference between the two outputs; spans and traces are named by label (see [`compare`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Diff {
    /// A span exported by one side only.
    SpanOnly { side: Side, span: String },
    /// The paired spans' names differ.
    Name { ours: String, theirs: String },
    Kind {
        span: String,
        ours: String,
        theirs: String,
    },
    /// The trace a span belongs to (its root's label, or `remote …`).
    Trace {
        span: String,
        ours: String,
        theirs: String,
    },
    Parent {
        span: String,
        ours: String,
        theirs: String,
    },
    Status {
        span: String,
        ours: String,
        theirs: String,
    },
    /// The values of one attribute key (empty: absent).
    Attr {
        span: String,
        key: String,
        ours: Vec<V>,
        theirs: Vec<V>,
    },
    Links {
        span: String,
        ours: Vec<String>,
        theirs: Vec<String>,
    },
    /// An event (span event / log record) on one side only; `span` is `-` outside any span
    /// and `unexported …` for a span that was not exported.
    EventOnly {
        side: Side,
        span: String,
        message: String,
    },
    EventMessage {
        span: String,
        ours: String,
        theirs: String,
    },
    EventLevel {
        span: String,
        message: String,
        ours: String,
        theirs: String,
    },
    EventAttr {
        span: String,
        message: String,
        key: String,
        ours: Vec<V>,
        theirs: Vec<V>,
    },
    /// Ours has `first` strictly before `then`, theirs strictly after.
    Order { first: String, then: String },
}

fn list(values: &[V]) -> String {
    if values.is_empty() {
        "absent".to_owned()
    } else {
        let v: Vec<String> = values.iter().map(ToString::to_string).collect();
        v.join(" + ")
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diff::SpanOnly { side, span } => write!(f, "span {span:?} exported by {side:?} only"),
            Diff::Name { ours, theirs } => write!(f, "name: ours {ours:?}, theirs {theirs:?}"),
            Diff::Kind { span, ours, theirs } => {
                write!(f, "{span}: kind ours {ours}, theirs {theirs}")
            }
            Diff::Trace { span, ours, theirs } => {
                write!(f, "{span}: trace ours {ours}, theirs {theirs}")
            }
            Diff::Parent { span, ours, theirs } => {
                write!(f, "{span}: parent ours {ours}, theirs {theirs}")
            }
            Diff::Status { span, ours, theirs } => {
                write!(f, "{span}: status ours {ours}, theirs {theirs}")
            }
            Diff::Attr {
                span,
                key,
                ours,
                theirs,
            } => write!(
                f,
                "{span}: attribute {key}: ours {}, theirs {}",
                list(ours),
                list(theirs)
            ),
            Diff::Links { span, ours, theirs } => {
                write!(f, "{span}: links ours {ours:?}, theirs {theirs:?}")
            }
            Diff::EventOnly {
                side,
                span,
                message,
            } => write!(f, "{span}: event {message:?} on {side:?} only"),
            Diff::EventMessage { span, ours, theirs } => {
                write!(f, "{span}: event message ours {ours:?}, theirs {theirs:?}")
            }
            Diff::EventLevel {
                span,
                message,
                ours,
                theirs,
            } => write!(
                f,
                "{span}: event {message:?} level ours {ours}, theirs {theirs}"
            ),
            Diff::EventAttr {
                span,
                message,
                key,
                ours,
                theirs,
            } => write!(
                f,
                "{span}: event {message:?} attribute {key}: ours {}, theirs {}",
                list(ours),
                list(theirs)
            ),
            Diff::Order { first, then } => {
                write!(f, "order: ours has {first} before {then}, theirs after")
            }
        }
    }
}

/// Pairs `ours[i]` with `theirs[j]`: equal keys first (in order), then what is left, in order.
/// Returns the pairs and the leftovers of each side.
fn pair<T>(
    ours: &[T],
    theirs: &[T],
    key: impl Fn(&T) -> String,
) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
    let mut taken = vec![false; theirs.len()];
    let mut pairs = Vec::new();
    let mut left = Vec::new();
    for (i, o) in ours.iter().enumerate() {
        let k = key(o);
        match (0..theirs.len()).find(|&j| !taken[j] && key(&theirs[j]) == k) {
            Some(j) => {
                taken[j] = true;
                pairs.push((i, j));
            }
            None => left.push(i),
        }
    }
    let mut right: Vec<usize> = (0..theirs.len()).filter(|&j| !taken[j]).collect();
    let n = left.len().min(right.len());
    pairs.extend(left.drain(..n).zip(right.drain(..n)));
    (pairs, left, right)
}

/// The label of each exported span of one side, by span id.
struct Labels<'a> {
    by_id: HashMap<SpanId, String>,
    spans: &'a [RawSpan],
}

impl Labels<'_> {
    fn span(&self, id: SpanId) -> Option<&str> {
        self.by_id.get(&id).map(String::as_str)
    }

    fn parent(&self, s: &RawSpan) -> String {
        if s.parent_span_id == SpanId::INVALID {
            return "none".to_owned();
        }
        match self.span(s.parent_span_id) {
            Some(label) => label.to_owned(),
            None if s.parent_is_remote => format!("remote {}", s.parent_span_id),
            None => format!("unexported {}", s.parent_span_id),
        }
    }

    /// The label of the root of `trace` among the exported spans, or the raw id.
    fn trace(&self, trace: TraceId) -> String {
        self.spans
            .iter()
            .find(|s| s.trace_id == trace && s.parent_span_id == SpanId::INVALID)
            .and_then(|s| self.span(s.span_id))
            .map_or_else(|| format!("remote {trace}"), |l| format!("root {l}"))
    }

    fn link(&self, (sc, attrs): &(SpanContext, Vec<(String, V)>)) -> String {
        let target = match self.span(sc.span_id()) {
            Some(label) => label.to_owned(),
            None => format!("remote {}", sc.span_id()),
        };
        let attrs: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "{target} sampled={} [{}]",
            sc.is_sampled(),
            attrs.join(", ")
        )
    }

    fn event_span(&self, span: Option<(TraceId, SpanId)>) -> String {
        match span {
            None => "-".to_owned(),
            Some((trace, id)) => match self.spans.iter().find(|s| s.span_id == id) {
                Some(s) if s.trace_id == trace => self.by_id[&id].clone(),
                Some(_) => format!("{} with a wrong trace id", self.by_id[&id]),
                None => format!("unexported {id}"),
            },
        }
    }
}

fn by_start(spans: &[RawSpan]) -> Vec<RawSpan> {
    let mut v = spans.to_vec();
    v.sort_by_key(|s| s.start);
    v
}

/// Every difference between `ours` and `theirs`.
pub fn compare(ours: &Output, theirs: &Output) -> Vec<Diff> {
    let (os, ts) = (by_start(&ours.spans), by_start(&theirs.spans));
    let (pairs, left, right) = pair(&os, &ts, |s| s.name.clone());
    let mut diffs = Vec::new();
    for i in left {
        diffs.push(Diff::SpanOnly {
            side: Side::Ours,
            span: os[i].name.clone(),
        });
    }
    for j in right {
        diffs.push(Diff::SpanOnly {
            side: Side::Theirs,
            span: ts[j].name.clone(),
        });
    }
    // A pair's label is the common name, `ours|theirs` when the names differ, `#2`, `#3`… for
    // the second, third… pair of that label (in the order spans started).
    let mut ol = HashMap::new();
    let mut tl = HashMap::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for &(i, j) in &pairs {
        let (o, t) = (&os[i], &ts[j]);
        let mut label = if o.name == t.name {
            o.name.clone()
        } else {
            format!("{}|{}", o.name, t.name)
        };
        let n = seen.entry(label.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            label = format!("{label}#{n}");
        }
        ol.insert(o.span_id, label.clone());
        tl.insert(t.span_id, label);
    }
    // Spans exported by one side only keep their name.
    for s in &os {
        ol.entry(s.span_id).or_insert_with(|| s.name.clone());
    }
    for s in &ts {
        tl.entry(s.span_id).or_insert_with(|| s.name.clone());
    }
    let ol = Labels {
        by_id: ol,
        spans: &os,
    };
    let tl = Labels {
        by_id: tl,
        spans: &ts,
    };
    let mut times: Vec<(String, SystemTime, SystemTime)> = Vec::new();
    for &(i, j) in &pairs {
        let (o, t) = (&os[i], &ts[j]);
        let span = ol.by_id[&o.span_id].clone();
        if o.name != t.name {
            diffs.push(Diff::Name {
                ours: o.name.clone(),
                theirs: t.name.clone(),
            });
        }
        let mut field = |ours: String, theirs: String, make: fn(String, String, String) -> Diff| {
            if ours != theirs {
                diffs.push(make(span.clone(), ours, theirs));
            }
        };
        field(o.kind.clone(), t.kind.clone(), |span, ours, theirs| {
            Diff::Kind { span, ours, theirs }
        });
        field(
            ol.trace(o.trace_id),
            tl.trace(t.trace_id),
            |span, ours, theirs| Diff::Trace { span, ours, theirs },
        );
        field(ol.parent(o), tl.parent(t), |span, ours, theirs| {
            Diff::Parent { span, ours, theirs }
        });
        field(o.status.clone(), t.status.clone(), |span, ours, theirs| {
            Diff::Status { span, ours, theirs }
        });
        diffs.extend(attr_diffs(&o.attributes, &t.attributes).into_iter().map(
            |(key, ours, theirs)| Diff::Attr {
                span: span.clone(),
                key,
                ours,
                theirs,
            },
        ));
        let links = |l: &Labels<'_>, s: &RawSpan| -> Vec<String> {
            s.links.iter().map(|k| l.link(k)).collect()
        };
        let (lo, lt) = (links(&ol, o), links(&tl, t));
        if lo != lt {
            diffs.push(Diff::Links {
                span: span.clone(),
                ours: lo,
                theirs: lt,
            });
        }
        times.push((format!("start {span}"), o.start, t.start));
        times.push((format!("end {span}"), o.end, t.end));
    }
    diffs.extend(event_diffs(ours, theirs, &ol, &tl, &mut times));
    // Order: every two moments present on both sides (a tie is compatible with either order).
    for a in 0..times.len() {
        for b in 0..times.len() {
            let (x, y) = (&times[a], &times[b]);
            if x.1.cmp(&y.1) == Ordering::Less && x.2.cmp(&y.2) == Ordering::Greater {
                diffs.push(Diff::Order {
                    first: x.0.clone(),
                    then: y.0.clone(),
                });
            }
        }
    }
    diffs
}

/// Per key, the values on each side when they differ (in order; several when a key repeats).
fn attr_diffs(ours: &[(String, V)], theirs: &[(String, V)]) -> Vec<(String, Vec<V>, Vec<V>)> {
    let mut keys: Vec<&String> = ours.iter().chain(theirs).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let values = |side: &[(String, V)], key: &str| -> Vec<V> {
        side.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    keys.into_iter()
        .filter_map(|k| {
            let (o, t) = (values(ours, k), values(theirs, k));
            (o != t).then(|| (k.clone(), o, t))
        })
        .collect()
}

/// Events of both sides, paired within the span they point at: by message, then in order.
fn event_diffs(
    ours: &Output,
    theirs: &Output,
    ol: &Labels<'_>,
    tl: &Labels<'_>,
    times: &mut Vec<(String, SystemTime, SystemTime)>,
) -> Vec<Diff> {
    let sorted = |events: &[RawEvent], l: &Labels<'_>| -> Vec<(String, RawEvent)> {
        let mut v: Vec<(String, RawEvent)> = events
            .iter()
            .map(|e| (l.event_span(e.span), e.clone()))
            .collect();
        v.sort_by_key(|(_, e)| e.time);
        v
    };
    let (oe, te) = (sorted(&ours.events, ol), sorted(&theirs.events, tl));
    let mut spans: Vec<&String> = oe.iter().chain(&te).map(|(s, _)| s).collect();
    spans.sort();
    spans.dedup();
    let mut diffs = Vec::new();
    for span in spans {
        let o: Vec<&RawEvent> = oe
            .iter()
            .filter(|(s, _)| s == span)
            .map(|(_, e)| e)
            .collect();
        let t: Vec<&RawEvent> = te
            .iter()
            .filter(|(s, _)| s == span)
            .map(|(_, e)| e)
            .collect();
        let (pairs, left, right) = pair(&o, &t, |e| e.message.clone());
        for (side, idx, events) in [(Side::Ours, left, &o), (Side::Theirs, right, &t)] {
            for i in idx {
                diffs.push(Diff::EventOnly {
                    side,
                    span: span.clone(),
                    message: events[i].message.clone(),
                });
            }
        }
        for (n, (i, j)) in pairs.into_iter().enumerate() {
            let (a, b) = (o[i], t[j]);
            if a.message != b.message {
                diffs.push(Diff::EventMessage {
                    span: span.clone(),
                    ours: a.message.clone(),
                    theirs: b.message.clone(),
                });
            }
            if a.level != b.level {
                diffs.push(Diff::EventLevel {
                    span: span.clone(),
                    message: a.message.clone(),
                    ours: a.level.clone(),
                    theirs: b.level.clone(),
                });
            }
            for (key, ours, theirs) in attr_diffs(&a.attributes, &b.attributes) {
                diffs.push(Diff::EventAttr {
                    span: span.clone(),
                    message: a.message.clone(),
                    key,
                    ours,
                    theirs,
                });
            }
            times.push((format!("event {span}/{n} {:?}", a.message), a.time, b.time));
        }
    }
    diffs
}
