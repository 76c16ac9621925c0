//! An OTLP `ExportTraceServiceRequest` encoded straight from the SDK's `SpanData`.
//!
//! `opentelemetry-proto`'s transform first builds the generated messages (a `String` per
//! attribute key, a `Vec` per id, an `AnyValue` per value), then prost encodes them and the
//! export thread frees both. Here each span is written once, by reference, with prost's wire
//! primitives, into one buffer sized exactly in advance. The bytes are the ones prost writes for
//! the generated messages (fields in tag order, defaults omitted the same way): the tests
//! compare them byte for byte with `group_spans_by_resource_and_scope` + `encode_to_vec`.
//! The resource and each scope are still converted and encoded by `opentelemetry-proto`.

use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::common::v1 as pb_common;
use opentelemetry_proto::tonic::resource::v1 as pb_resource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};
use prost::Message;
use std::borrow::Borrow;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bit 8 of `Span.flags`/`Link.flags`: whether the parent/linked context is remote is known.
const HAS_IS_REMOTE: u32 = 0x100;
/// Bit 9: the parent/linked context is remote.
const IS_REMOTE: u32 = 0x200;

/// Encodes batches of spans as OTLP trace export requests for one resource.
#[derive(Debug)]
pub(crate) struct TraceEncoder {
    /// `ResourceSpans.resource`, encoded once.
    resource: Vec<u8>,
    schema_url: String,
}

impl TraceEncoder {
    pub(crate) fn new(resource: &Resource) -> Self {
        let r = ResourceAttributesWithSchema::from(resource);
        let resource = pb_resource::Resource {
            attributes: r.attributes.0,
            dropped_attributes_count: 0,
            entity_refs: vec![],
        }
        .encode_to_vec();
        Self {
            resource,
            schema_url: r.schema_url.unwrap_or_default(),
        }
    }

    /// The protobuf bytes of an `ExportTraceServiceRequest` holding `spans`: one
    /// `ResourceSpans`, one `ScopeSpans` per instrumentation scope in order of first appearance,
    /// spans in batch order.
    pub(crate) fn encode<S: Borrow<SpanData>>(&self, spans: &[S]) -> Vec<u8> {
        // Group by scope; a batch holds few distinct scopes, so a linear scan beats hashing.
        let mut scopes: Vec<ScopeGroup<'_>> = Vec::new();
        let mut span_lens = Vec::with_capacity(spans.len());
        for (i, s) in spans.iter().enumerate() {
            let s = s.borrow();
            let len = span_len(s);
            span_lens.push(len);
            let field = len_field(2, len);
            match scopes
                .iter_mut()
                .find(|g| *g.scope == s.instrumentation_scope)
            {
                Some(g) => {
                    g.spans.push(i);
                    g.len += field;
                }
                None => {
                    let scope = &s.instrumentation_scope;
                    let encoded =
                        pb_common::InstrumentationScope::from((scope, None)).encode_to_vec();
                    let len = len_field(1, encoded.len())
                        + str_len(3, scope.schema_url().unwrap_or_default())
                        + field;
                    scopes.push(ScopeGroup {
                        scope,
                        encoded,
                        spans: vec![i],
                        len,
                    });
                }
            }
        }
        let rs_len = len_field(1, self.resource.len())
            + scopes.iter().map(|g| len_field(2, g.len)).sum::<usize>()
            + str_len(3, &self.schema_url);
        let mut buf = Vec::with_capacity(len_field(1, rs_len));
        put_header(1, rs_len, &mut buf);
        put_header(1, self.resource.len(), &mut buf);
        buf.extend_from_slice(&self.resource);
        for g in &scopes {
            put_header(2, g.len, &mut buf);
            put_header(1, g.encoded.len(), &mut buf);
            buf.extend_from_slice(&g.encoded);
            for &i in &g.spans {
                put_header(2, span_lens[i], &mut buf);
                put_span(spans[i].borrow(), &mut buf);
            }
            put_str(3, g.scope.schema_url().unwrap_or_default(), &mut buf);
        }
        put_str(3, &self.schema_url, &mut buf);
        debug_assert_eq!(buf.len(), buf.capacity());
        buf
    }
}

/// The spans of one scope: their indices in the batch and the `ScopeSpans` body length.
struct ScopeGroup<'a> {
    scope: &'a InstrumentationScope,
    encoded: Vec<u8>,
    spans: Vec<usize>,
    len: usize,
}

// ---- lengths ----------------------------------------------------------------------------------

/// A length-delimited field of `len` body bytes.
#[inline]
fn len_field(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// A proto3 string/bytes field: omitted when empty.
#[inline]
fn str_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_field(tag, s.len())
    }
}

/// A proto3 varint field: omitted when zero.
#[inline]
fn varint_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

/// A proto3 fixed64 field: omitted when zero.
#[inline]
fn fixed64_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + 8
    }
}

fn to_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
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
        let body = fixed64_len(1, to_nanos(e.timestamp))
            + str_len(2, &e.name)
            + attrs_len(3, &e.attributes)
            + varint_len(4, u64::from(e.dropped_attributes_count));
        n += len_field(11, body);
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

// ---- writing ----------------------------------------------------------------------------------

#[inline]
fn put_header(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

#[inline]
fn put_bytes(tag: u32, b: &[u8], buf: &mut Vec<u8>) {
    put_header(tag, b.len(), buf);
    buf.extend_from_slice(b);
}

#[inline]
fn put_str(tag: u32, s: &str, buf: &mut Vec<u8>) {
    if !s.is_empty() {
        put_bytes(tag, s.as_bytes(), buf);
    }
}

#[inline]
fn put_varint(tag: u32, v: u64, buf: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(v, buf);
    }
}

#[inline]
fn put_fixed64(tag: u32, v: u64, buf: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::SixtyFourBit, buf);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

#[inline]
fn put_fixed32(tag: u32, v: u32, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::ThirtyTwoBit, buf);
    buf.extend_from_slice(&v.to_le_bytes());
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

fn put_bool(b: bool, buf: &mut Vec<u8>) {
    encode_key(2, WireType::Varint, buf);
    encode_varint(u64::from(b), buf);
}

fn put_i64(i: i64, buf: &mut Vec<u8>) {
    encode_key(3, WireType::Varint, buf);
    encode_varint(i as u64, buf);
}

fn put_f64(f: f64, buf: &mut Vec<u8>) {
    encode_key(4, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&f.to_le_bytes());
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
        let time = to_nanos(e.timestamp);
        let body = fixed64_len(1, time)
            + str_len(2, &e.name)
            + attrs_len(3, &e.attributes)
            + varint_len(4, u64::from(e.dropped_attributes_count));
        put_header(11, body, buf);
        put_fixed64(1, time, buf);
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
