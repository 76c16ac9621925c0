//! What a recording span has collected so far, and the `tracing` field visitor that fills it.

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;
use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;
use tracing::field::{Field, Visit};

/// The span limits a record is kept within (`OTEL_SPAN_*_COUNT_LIMIT`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanLimits {
    pub(crate) max_attributes: usize,
    pub(crate) max_events: usize,
    pub(crate) max_links: usize,
}

/// `otel.name`: replaces the span name.
const NAME_FIELD: &str = "otel.name";
/// `otel.kind`: `server`, `client`, `producer`, `consumer` or `internal`.
const KIND_FIELD: &str = "otel.kind";
/// `otel.status_code`: `ok` or `error`.
const STATUS_CODE_FIELD: &str = "otel.status_code";
/// `otel.status_description`: sets an error status with this description.
const STATUS_DESCRIPTION_FIELD: &str = "otel.status_description";
/// `otel.status_message`: tracing-opentelemetry's name for the same thing, so that spans written
/// for it keep their status.
const STATUS_MESSAGE_FIELD: &str = "otel.status_message";

/// A recording span: the `SpanData` it is exported as, boxed from creation so that it moves
/// as a pointer from the `tracing` span into the export queue.
#[derive(Debug)]
pub(crate) struct SpanRecord(Box<SpanData>);

/// `end_time` of a span not exited yet.
/// (`recycle::blank` sets it so.)
const NOT_EXITED: SystemTime = SystemTime::UNIX_EPOCH;

impl SpanRecord {
    #[inline]
    pub(crate) fn new(name: &'static str, fields: usize, scope: &InstrumentationScope) -> Self {
        Self::starting(Cow::Borrowed(name), SystemTime::now(), fields, scope)
    }

    /// A record named `name` starting at `start`, with room for `fields` attributes.
    #[inline]
    pub(crate) fn starting(
        name: Cow<'static, str>,
        start: SystemTime,
        fields: usize,
        scope: &InstrumentationScope,
    ) -> Self {
        use crate::export::recycle;
        // An exported span's allocations when one is waiting, blank; otherwise new ones.
        let mut b = match recycle::take() {
            Some(mut b) => {
                b.attributes.reserve(fields);
                if !same_scope(&b.instrumentation_scope, scope) {
                    b.instrumentation_scope = scope.clone();
                }
                b
            }
            None => Box::new(recycle::blank(Vec::with_capacity(fields), scope.clone())),
        };
        // The rest as `blank` left it (end time `NOT_EXITED`).
        b.name = name;
        b.start_time = start;
        Self(b)
    }

    /// Gives the allocation back to the recycle pool (a record that will not be exported).
    pub(crate) fn recycle(self) {
        crate::export::recycle::give_back_one(self.0);
    }

    pub(crate) fn name(&self) -> &str {
        &self.0.name
    }

    pub(crate) fn set_name(&mut self, name: Cow<'static, str>) {
        self.0.name = name;
    }

    pub(crate) fn set_kind(&mut self, kind: SpanKind) {
        self.0.span_kind = kind;
    }

    pub(crate) fn kind(&self) -> &SpanKind {
        &self.0.span_kind
    }

    pub(crate) fn attributes(&self) -> &[KeyValue] {
        &self.0.attributes
    }

    pub(crate) fn links(&self) -> &[Link] {
        &self.0.links.links
    }

    /// The span ends at its last exit (as with tracing-opentelemetry), or when it closes.
    #[inline]
    pub(crate) fn set_end(&mut self, at: SystemTime) {
        self.0.end_time = at;
    }

    /// Adds an attribute, or counts it as dropped past the per-span limit.
    #[inline(always)]
    pub(crate) fn push_attribute(&mut self, kv: KeyValue, limits: &SpanLimits) {
        self.push_attribute_within(kv, limits.max_attributes);
    }

    /// Adds an attribute, or counts it as dropped when the span already has `max`.
    #[inline(always)]
    pub(crate) fn push_attribute_within(&mut self, kv: KeyValue, max: usize) {
        let d = &mut *self.0;
        push_limited(&mut d.attributes, &mut d.dropped_attributes_count, kv, max);
    }

    /// Adds attributes up to the per-span limit, counting the rest as dropped.
    #[inline]
    pub(crate) fn extend_attributes(
        &mut self,
        attributes: impl IntoIterator<Item = KeyValue>,
        limits: &SpanLimits,
    ) {
        let d = &mut *self.0;
        let room = limits.max_attributes.saturating_sub(d.attributes.len());
        let mut attributes = attributes.into_iter();
        d.attributes.extend(attributes.by_ref().take(room));
        let dropped = attributes.count();
        d.dropped_attributes_count = d
            .dropped_attributes_count
            .saturating_add(u32::try_from(dropped).unwrap_or(u32::MAX));
    }

    /// Replaces the value of attribute `kv.key` if it is there, else adds `kv`.
    #[inline]
    pub(crate) fn put_attribute(&mut self, kv: KeyValue, limits: &SpanLimits) {
        match self.0.attributes.iter_mut().find(|a| a.key == kv.key) {
            Some(old) => old.value = kv.value,
            None => self.push_attribute(kv, limits),
        }
    }

    /// Status only moves up the order Unset < Error < Ok (the SDK's rule).
    pub(crate) fn set_status(&mut self, status: Status) {
        if status > self.0.status {
            self.0.status = status;
        }
    }

    pub(crate) fn push_event(&mut self, event: Event, limits: &SpanLimits) {
        let e = &mut self.0.events;
        push_limited(
            &mut e.events,
            &mut e.dropped_count,
            event,
            limits.max_events,
        );
    }

    pub(crate) fn push_link(&mut self, link: Link, limits: &SpanLimits) {
        let l = &mut self.0.links;
        push_limited(&mut l.links, &mut l.dropped_count, link, limits.max_links);
    }

    /// The finished span, with its ids, ending now unless it was exited before.
    #[inline]
    pub(crate) fn finish(
        self,
        sc: SpanContext,
        parent_span_id: SpanId,
        parent_is_remote: bool,
    ) -> Box<SpanData> {
        let mut d = self.0;
        d.span_context = sc;
        d.parent_span_id = parent_span_id;
        d.parent_span_is_remote = parent_is_remote;
        if d.end_time == NOT_EXITED {
            d.end_time = SystemTime::now();
        }
        d
    }
}

/// Whether a recycled span's scope can stay as the new span's `scope`: same name, version and
/// schema URL, and no attributes on either (a scope with attributes is always assigned anew,
/// which is always right). Keeping it saves a clone and a drop per span (see the core bench's
/// docs).
#[inline]
fn same_scope(kept: &InstrumentationScope, scope: &InstrumentationScope) -> bool {
    kept.attributes().next().is_none()
        && scope.attributes().next().is_none()
        && kept.name() == scope.name()
        && kept.version() == scope.version()
        && kept.schema_url() == scope.schema_url()
}

/// Adds `item` while `list` is under `max`, else counts it in `dropped` (the SDK's span limits).
#[inline(always)]
fn push_limited<T>(list: &mut Vec<T>, dropped: &mut u32, item: T, max: usize) {
    if list.len() < max {
        list.push(item);
    } else {
        *dropped = dropped.saturating_add(1);
    }
}

fn span_kind(s: &str) -> Option<SpanKind> {
    [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find_map(|(name, kind)| s.eq_ignore_ascii_case(name).then_some(kind))
}

fn status_code(s: &str) -> Status {
    if s.eq_ignore_ascii_case("ok") {
        Status::Ok
    } else if s.eq_ignore_ascii_case("error") {
        Status::error("")
    } else {
        Status::Unset
    }
}

/// Records `tracing` fields as attributes; the `otel.*` fields set name, kind and status.
pub(crate) struct FieldVisitor<'a> {
    pub(crate) record: &'a mut SpanRecord,
    pub(crate) limits: &'a SpanLimits,
    /// Recording after creation (`Span::record`): a field recorded again replaces its value.
    pub(crate) replace: bool,
}

impl FieldVisitor<'_> {
    #[inline(always)]
    fn push(&mut self, key: &'static str, value: Value) {
        self.put(KeyValue::new(Key::from_static_str(key), value));
    }

    #[inline(always)]
    fn put(&mut self, kv: KeyValue) {
        if self.replace {
            self.record.put_attribute(kv, self.limits);
        } else {
            self.record.push_attribute(kv, self.limits);
        }
    }

    /// Handles an `otel.*` field; `false` when `name` is an ordinary field.
    fn special(&mut self, name: &str, value: &dyn Fn() -> String) -> bool {
        match name {
            NAME_FIELD => self.record.set_name(Cow::Owned(value())),
            KIND_FIELD => {
                if let Some(kind) = span_kind(&value()) {
                    self.record.0.span_kind = kind;
                }
            }
            STATUS_CODE_FIELD => self.record.set_status(status_code(&value())),
            STATUS_DESCRIPTION_FIELD | STATUS_MESSAGE_FIELD => {
                self.record.set_status(Status::error(value()))
            }
            _ => return false,
        }
        true
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field.name(), Value::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field.name(), Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field.name(), Value::I64(value));
    }

    /// An integer when it fits in `i64` (OTLP has no unsigned type), its decimal text otherwise.
    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(v) => self.push(field.name(), Value::I64(v)),
            Err(_) => self.push(field.name(), Value::String(value.to_string().into())),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !field.name().starts_with("otel.") || !self.special(field.name(), &|| value.to_owned()) {
            self.push(field.name(), Value::String(value.to_owned().into()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = || format!("{value:?}");
        if !field.name().starts_with("otel.") || !self.special(field.name(), &text) {
            self.push(field.name(), Value::String(text().into()));
        }
    }

    /// The error's message under the field name, its `source()` chain under `<field>.chain`, and
    /// the message as `exception.message`.
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let message = value.to_string();
        let mut chain: Vec<StringValue> = Vec::new();
        let mut next = value.source();
        while let Some(e) = next {
            chain.push(e.to_string().into());
            next = e.source();
        }
        self.push("exception.message", Value::String(message.clone().into()));
        self.push(field.name(), Value::String(message.into()));
        self.record.push_attribute(
            KeyValue::new(
                format!("{}.chain", field.name()),
                Value::Array(chain.into()),
            ),
            self.limits,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record on a recycled allocation carries its own scope, whatever scope the allocation
    /// held before (the pool is process-wide: whichever allocation comes back, this holds).
    #[test]
    fn a_recycled_allocation_takes_the_new_spans_scope() {
        let a = InstrumentationScope::builder("a").with_version("1").build();
        let b = InstrumentationScope::builder("b").build();
        let a2 = InstrumentationScope::builder("a").with_version("2").build();
        let with_attrs = InstrumentationScope::builder("a")
            .with_version("1")
            .with_attributes([KeyValue::new("k", "v")])
            .build();
        let pairs = [
            (&a, &b),
            (&b, &a),
            (&a, &a2),
            (&a, &with_attrs),
            (&with_attrs, &a),
            (&a, &a),
        ];
        for (before, after) in pairs {
            SpanRecord::starting(Cow::Borrowed("x"), SystemTime::now(), 1, before).recycle();
            let r = SpanRecord::starting(Cow::Borrowed("y"), SystemTime::now(), 1, after);
            assert_eq!(r.0.instrumentation_scope, *after);
            assert_eq!(
                r.0.instrumentation_scope.attributes().count(),
                after.attributes().count()
            );
        }
    }

    #[test]
    fn same_scope_needs_equal_fields_and_no_attributes() {
        let a = InstrumentationScope::builder("a").with_version("1").build();
        assert!(same_scope(&a, &a.clone()));
        assert!(!same_scope(
            &a,
            &InstrumentationScope::builder("a").with_version("2").build()
        ));
        assert!(!same_scope(
            &a,
            &InstrumentationScope::builder("a")
                .with_version("1")
                .with_schema_url("s")
                .build()
        ));
        let attrs = InstrumentationScope::builder("a")
            .with_version("1")
            .with_attributes([KeyValue::new("k", "v")])
            .build();
        assert!(!same_scope(&attrs, &attrs.clone()));
    }
}
