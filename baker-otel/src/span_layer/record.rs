//! What a recording span has collected so far, and the `tracing` field visitor that fills it.

use super::Shared;
use opentelemetry::trace::{Event, Link, SpanKind, Status};
use opentelemetry::{Key, KeyValue, StringValue, Value};
use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;
use tracing::field::{Field, Visit};

/// `otel.name`: replaces the span name.
const NAME_FIELD: &str = "otel.name";
/// `otel.kind`: `server`, `client`, `producer`, `consumer` or `internal`.
const KIND_FIELD: &str = "otel.kind";
/// `otel.status_code`: `ok` or `error`.
const STATUS_CODE_FIELD: &str = "otel.status_code";
/// `otel.status_description`: sets an error status with this description.
const STATUS_DESCRIPTION_FIELD: &str = "otel.status_description";

/// The mutable part of a recording span, exported as `SpanData` when the span ends.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: SpanKind,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) dropped_attributes: u32,
    pub(crate) events: Vec<Event>,
    pub(crate) dropped_events: u32,
    pub(crate) links: Vec<Link>,
    pub(crate) dropped_links: u32,
    pub(crate) status: Status,
    pub(crate) start: SystemTime,
    /// Time of the last exit (the span ends there, as with tracing-opentelemetry).
    pub(crate) end: Option<SystemTime>,
}

impl SpanRecord {
    pub(crate) fn new(name: &'static str, fields: usize) -> Self {
        Self {
            name: Cow::Borrowed(name),
            kind: SpanKind::Internal,
            attributes: Vec::with_capacity(fields),
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            links: Vec::new(),
            dropped_links: 0,
            status: Status::Unset,
            start: SystemTime::now(),
            end: None,
        }
    }

    /// Adds an attribute, or counts it as dropped past the per-span limit.
    pub(crate) fn push_attribute(&mut self, kv: KeyValue, limits: &Shared) {
        if self.attributes.len() < limits.max_attributes {
            self.attributes.push(kv);
        } else {
            self.dropped_attributes = self.dropped_attributes.saturating_add(1);
        }
    }

    /// Status only moves up the order Unset < Error < Ok (the SDK's rule).
    pub(crate) fn set_status(&mut self, status: Status) {
        if status > self.status {
            self.status = status;
        }
    }

    pub(crate) fn push_event(&mut self, event: Event, limits: &Shared) {
        if self.events.len() < limits.max_events {
            self.events.push(event);
        } else {
            self.dropped_events = self.dropped_events.saturating_add(1);
        }
    }

    pub(crate) fn push_link(&mut self, link: Link, limits: &Shared) {
        if self.links.len() < limits.max_links {
            self.links.push(link);
        } else {
            self.dropped_links = self.dropped_links.saturating_add(1);
        }
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
    pub(crate) limits: &'a Shared,
    /// Recording after creation (`Span::record`): a field recorded again replaces its value.
    pub(crate) replace: bool,
}

impl FieldVisitor<'_> {
    fn push(&mut self, key: &'static str, value: Value) {
        self.put(KeyValue::new(Key::from_static_str(key), value));
    }

    fn put(&mut self, kv: KeyValue) {
        if self.replace {
            if let Some(old) = self.record.attributes.iter_mut().find(|a| a.key == kv.key) {
                old.value = kv.value;
                return;
            }
        }
        self.record.push_attribute(kv, self.limits);
    }

    /// Handles an `otel.*` field; `false` when `name` is an ordinary field.
    fn special(&mut self, name: &str, value: &dyn Fn() -> String) -> bool {
        match name {
            NAME_FIELD => self.record.name = Cow::Owned(value()),
            KIND_FIELD => {
                if let Some(kind) = span_kind(&value()) {
                    self.record.kind = kind;
                }
            }
            STATUS_CODE_FIELD => self.record.set_status(status_code(&value())),
            STATUS_DESCRIPTION_FIELD => self.record.set_status(Status::error(value())),
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
