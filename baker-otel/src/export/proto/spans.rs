//! `ExportTraceServiceRequest` from `SpanData` (see the [module](super) docs).

use super::wire::*;
use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::common::v1 as pb_common;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use prost::encoding::{encoded_len_varint, key_len};
use prost::Message;
use std::borrow::Borrow;

/// Bit 8 of `Span.flags`/`Link.flags`: whether the parent/linked context is remote is known.
const HAS_IS_REMOTE: u32 = 0x100;
/// Bit 9: the parent/linked context is remote.
const IS_REMOTE: u32 = 0x200;

/// Encodes batches of spans as OTLP trace export requests for one resource.
#[derive(Debug)]
pub(crate) struct TraceEncoder(ResourceFrame);

impl TraceEncoder {
    pub(crate) fn new(resource: &Resource) -> Self {
        Self(ResourceFrame::new(resource))
    }

    /// The protobuf bytes of an `ExportTraceServiceRequest` holding `spans`: one
    /// `ResourceSpans`, one `ScopeSpans` per instrumentation scope in order of first appearance,
    /// spans in batch order.
    pub(crate) fn encode<S: Borrow<SpanData>>(&self, spans: &[S]) -> Vec<u8> {
        // Group by scope; a batch holds few distinct scopes, so a linear scan beats hashing.
        let mut groups: Vec<(&InstrumentationScope, ScopeGroup)> = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            let s = s.borrow();
            let scope = &s.instrumentation_scope;
            let at = match groups.iter().position(|(k, _)| *k == scope) {
                Some(at) => at,
                None => {
                    let encoded =
                        pb_common::InstrumentationScope::from((scope, None)).encode_to_vec();
                    let g = ScopeGroup::new(encoded, scope.schema_url().unwrap_or_default());
                    groups.push((scope, g));
                    groups.len() - 1
                }
            };
            groups[at].1.push(i, span_len(s));
        }
        let groups: Vec<ScopeGroup> = groups.into_iter().map(|(_, g)| g).collect();
        self.0
            .encode(&groups, |i, buf| put_span(spans[i].borrow(), buf))
    }
}

/// `Span.flags` / `Link.flags`: the W3C trace flags plus the is-remote bits.
fn flags(trace_flags: u8, remote: bool) -> u32 {
    u32::from(trace_flags) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

fn kind(k: &SpanKind) -> u64 {
    match k {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// The trace state header, allocated only when there is one.
fn trace_state(ts: &TraceState) -> Option<String> {
    if *ts == TraceState::NONE {
        None
    } else {
        Some(ts.header()).filter(|h| !h.is_empty())
    }
}

/// `AnyValue` body.
fn value_len(v: &Value) -> usize {
    match v {
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(i) => key_len(3) + encoded_len_varint(*i as u64),
        Value::F64(_) => key_len(4) + 8,
        Value::String(s) => len_field(1, s.as_str().len()),
        Value::Array(a) => len_field(5, array_len(a)),
        // A value kind added upstream later: sent as an empty `AnyValue`.
        _ => 0,
    }
}

/// `ArrayValue` body: each element an `AnyValue` in field 1.
fn array_len(a: &Array) -> usize {
    fn each<T>(vals: &[T], f: impl Fn(&T) -> usize) -> usize {
        vals.iter().map(|v| len_field(1, f(v))).sum()
    }
    match a {
        Array::Bool(v) => each(v, |_| key_len(2) + 1),
        Array::I64(v) => each(v, |i| key_len(3) + encoded_len_varint(*i as u64)),
        Array::F64(v) => each(v, |_| key_len(4) + 8),
        Array::String(v) => each(v, |s: &StringValue| len_field(1, s.as_str().len())),
        _ => 0,
    }
}

/// `KeyValue` body (the value is always present, as in the upstream transform).
fn kv_len(kv: &KeyValue) -> usize {
    str_len(1, kv.key.as_str()) + len_field(2, value_len(&kv.value))
}

fn attrs_len(tag: u32, attrs: &[KeyValue]) -> usize {
    attrs.iter().map(|kv| len_field(tag, kv_len(kv))).sum()
}

fn link_len(l: &Link, ts: Option<&str>) -> usize {
    len_field(1, 16)
        + len_field(2, 8)
        + str_len(3, ts.unwrap_or_default())
        + attrs_len(4, &l.attributes)
        + varint_len(5, u64::from(l.dropped_attributes_count))
        + key_len(6)
        + 4
}

/// `Span.Event` body.
fn event_len(e: &Event) -> usize {
    fixed64_len(1, to_nanos(e.timestamp))
        + str_len(2, &e.name)
        + attrs_len(3, &e.attributes)
        + varint_len(4, u64::from(e.dropped_attributes_count))
}

fn status_len(s: &Status) -> usize {
    match s {
        Status::Unset => 0,
        Status::Ok => varint_len(3, 1),
        Status::Error { description } => str_len(2, description) + varint_len(3, 2),
    }
}

/// `Span` body.
fn span_len(s: &SpanData) -> usize {
    let ctx = &s.span_context;
    let mut n = len_field(1, 16) + len_field(2, 8);
    n += str_len(
        3,
        trace_state(ctx.trace_state())
            .as_deref()
            .unwrap_or_default(),
    );
    if s.parent_span_id != SpanId::INVALID {
        n += len_field(4, 8);
    }
    n += key_len(16) + 4;
    n += str_len(5, &s.name);
    n += varint_len(6, kind(&s.span_kind));
    n += fixed64_len(7, to_nanos(s.start_time));
    n += fixed64_len(8, to_nanos(s.end_time));
    n += attrs_len(9, &s.attributes);
    n += varint_len(10, u64::from(s.dropped_attributes_count));
    for e in s.events.iter() {
        n += len_field(11, event_len(e));
    }
    n += varint_len(12, u64::from(s.events.dropped_count));
    for l in s.links.iter() {
        let ts = trace_state(l.span_context.trace_state());
        n += len_field(13, link_len(l, ts.as_deref()));
    }
    n += varint_len(14, u64::from(s.links.dropped_count));
    n += len_field(15, status_len(&s.status));
    n
}

/// `AnyValue` body (its `oneof` member is written even when it holds a default value).
fn put_value(v: &Value, buf: &mut Vec<u8>) {
    match v {
        Value::Bool(b) => put_bool(*b, buf),
        Value::I64(i) => put_i64(*i, buf),
        Value::F64(f) => put_f64(*f, buf),
        Value::String(s) => put_bytes(1, s.as_str().as_bytes(), buf),
        Value::Array(a) => {
            put_header(5, array_len(a), buf);
            put_array(a, buf);
        }
        _ => {}
    }
}

fn put_array(a: &Array, buf: &mut Vec<u8>) {
    fn each<T>(
        vals: &[T],
        len: impl Fn(&T) -> usize,
        put: impl Fn(&T, &mut Vec<u8>),
        buf: &mut Vec<u8>,
    ) {
        for v in vals {
            put_header(1, len(v), buf);
            put(v, buf);
        }
    }
    match a {
        Array::Bool(v) => each(v, |_| key_len(2) + 1, |b, buf| put_bool(*b, buf), buf),
        Array::I64(v) => each(
            v,
            |i| key_len(3) + encoded_len_varint(*i as u64),
            |i, buf| put_i64(*i, buf),
            buf,
        ),
        Array::F64(v) => each(v, |_| key_len(4) + 8, |f, buf| put_f64(*f, buf), buf),
        Array::String(v) => each(
            v,
            |s| len_field(1, s.as_str().len()),
            |s, buf| put_bytes(1, s.as_str().as_bytes(), buf),
            buf,
        ),
        _ => {}
    }
}

fn put_attrs(tag: u32, attrs: &[KeyValue], buf: &mut Vec<u8>) {
    for kv in attrs {
        put_header(tag, kv_len(kv), buf);
        put_str(1, kv.key.as_str(), buf);
        put_header(2, value_len(&kv.value), buf);
        put_value(&kv.value, buf);
    }
}

fn put_ids(ctx: &SpanContext, ts: Option<&str>, buf: &mut Vec<u8>) {
    put_bytes(1, &ctx.trace_id().to_bytes(), buf);
    put_bytes(2, &ctx.span_id().to_bytes(), buf);
    put_str(3, ts.unwrap_or_default(), buf);
}

fn put_span(s: &SpanData, buf: &mut Vec<u8>) {
    let ctx = &s.span_context;
    put_ids(ctx, trace_state(ctx.trace_state()).as_deref(), buf);
    if s.parent_span_id != SpanId::INVALID {
        put_bytes(4, &s.parent_span_id.to_bytes(), buf);
    }
    put_str(5, &s.name, buf);
    put_varint(6, kind(&s.span_kind), buf);
    put_fixed64(7, to_nanos(s.start_time), buf);
    put_fixed64(8, to_nanos(s.end_time), buf);
    put_attrs(9, &s.attributes, buf);
    put_varint(10, u64::from(s.dropped_attributes_count), buf);
    for e in s.events.iter() {
        put_header(11, event_len(e), buf);
        put_fixed64(1, to_nanos(e.timestamp), buf);
        put_str(2, &e.name, buf);
        put_attrs(3, &e.attributes, buf);
        put_varint(4, u64::from(e.dropped_attributes_count), buf);
    }
    put_varint(12, u64::from(s.events.dropped_count), buf);
    for l in s.links.iter() {
        let lc = &l.span_context;
        let ts = trace_state(lc.trace_state());
        put_header(13, link_len(l, ts.as_deref()), buf);
        put_ids(lc, ts.as_deref(), buf);
        put_attrs(4, &l.attributes, buf);
        put_varint(5, u64::from(l.dropped_attributes_count), buf);
        put_fixed32(6, flags(lc.trace_flags().to_u8(), lc.is_remote()), buf);
    }
    put_varint(14, u64::from(s.links.dropped_count), buf);
    put_header(15, status_len(&s.status), buf);
    match &s.status {
        Status::Unset => {}
        Status::Ok => put_varint(3, 1, buf),
        Status::Error { description } => {
            put_str(2, description, buf);
            put_varint(3, 2, buf);
        }
    }
    put_fixed32(
        16,
        flags(ctx.trace_flags().to_u8(), s.parent_span_is_remote),
        buf,
    );
}

#[cfg(test)]
mod tests;
