//! Estimated OTLP protobuf size of a span or log record, for the export byte cap
//! (`max_export_batch_bytes`).
//!
//! An upper bound, not a guess: every length-delimited field is counted with [`FIELD`] bytes of
//! tag and length prefix (at most 2 + 5 for any length below 32 GiB), every varint at its widest,
//! and the scope of each item as if it opened its own `Scope*` group. For any batch, the request
//! the encoders ([`proto`](super::proto)) write is at most the sum of the estimates plus the
//! encoded resource, which each request carries once; the property tests in `size/tests.rs`
//! check that against the real encoders over spans with links, `tracestate`s, events and every
//! attribute type. Only lengths are read (no encoding, no allocation): this runs per item.

use super::LogItem;
use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Tag and length prefix of one length-delimited field (at most 7 bytes), with room to spare.
const FIELD: usize = 16;
/// A scalar `AnyValue` (bool, int, double): its field at most 11 bytes.
const SCALAR: usize = 11;
/// The widest element of each array type: an `AnyValue` field holding a bool (4 bytes), an int
/// (13: a negative int is a 10-byte varint) or a double (11).
const BOOL_ITEM: usize = 4;
const INT_ITEM: usize = 13;
const DOUBLE_ITEM: usize = 11;
/// A varint field holding a `u32` or a small enum: tag and up to 5 bytes.
const VARINT: usize = 6;
/// Trace id (18), span id (10) and flags (6) of a span or link context.
const IDS: usize = 18 + 10 + 6;
/// A span's parent id (10), kind, start and end times (9 + 9), three dropped counts, the status
/// code, and the fields of the span itself, its name and its status.
const SPAN_FIXED: usize = IDS + 10 + VARINT + 9 + 9 + 3 * VARINT + VARINT + 3 * FIELD;
/// A link's ids, dropped count and field.
const LINK_FIXED: usize = IDS + VARINT + FIELD;
/// An event's time (9), dropped count, and the fields of the event and its name.
const EVENT_FIXED: usize = 9 + VARINT + 2 * FIELD;
/// A log record's times (9 + 9), severity number, flags (6), trace and span ids (18 + 10), and the
/// fields of the record, its severity text, body and event name.
const LOG_FIXED: usize = 9 + 9 + VARINT + 6 + 18 + 10 + 4 * FIELD;
/// The request's own framing around the first item (request and resource fields).
const REQUEST: usize = 2 * FIELD;

fn value(v: &Value) -> usize {
    FIELD
        + match v {
            Value::String(s) => s.as_str().len() + FIELD,
            Value::Array(a) => {
                FIELD
                    + match a {
                        Array::String(l) => l.iter().map(|s| s.as_str().len() + 2 * FIELD).sum(),
                        Array::Bool(l) => l.len() * BOOL_ITEM,
                        Array::I64(l) => l.len() * INT_ITEM,
                        Array::F64(l) => l.len() * DOUBLE_ITEM,
                        _ => 0,
                    }
            }
            _ => SCALAR,
        }
}

fn attributes<'a>(kvs: impl IntoIterator<Item = &'a KeyValue>) -> usize {
    kvs.into_iter()
        .map(|kv| FIELD + kv.key.as_str().len() + FIELD + value(&kv.value))
        .sum()
}

/// A `tracestate` header as the encoder writes it: its list-members joined by `,`.
fn trace_state(ts: &TraceState) -> usize {
    let members: usize = ts.into_iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if members == 0 {
        0
    } else {
        FIELD + members
    }
}

/// A `Scope*` group holding one item: the scope's name (or the record's target), version,
/// attributes and schema URL, and the group's fields.
fn scope(s: &InstrumentationScope, name: &str) -> usize {
    4 * FIELD
        + name.len()
        + s.version().map_or(0, str::len)
        + attributes(s.attributes())
        + FIELD
        + s.schema_url().map_or(0, str::len)
}

/// A span: ids and `tracestate`, times, name, attributes, events, links (with their
/// `tracestate`s and attributes), status, and its scope.
pub(crate) fn span(s: &SpanData) -> usize {
    let status = match &s.status {
        Status::Error { description } => description.len(),
        _ => 0,
    };
    REQUEST
        + SPAN_FIXED
        + scope(&s.instrumentation_scope, s.instrumentation_scope.name())
        + trace_state(s.span_context.trace_state())
        + s.name.len()
        + attributes(&s.attributes)
        + s.events
            .iter()
            .map(|e| EVENT_FIXED + e.name.len() + attributes(&e.attributes))
            .sum::<usize>()
        + s.links
            .iter()
            .map(|l| {
                LINK_FIXED + trace_state(l.span_context.trace_state()) + attributes(&l.attributes)
            })
            .sum::<usize>()
        + status
}

fn any(v: &AnyValue) -> usize {
    FIELD
        + match v {
            AnyValue::String(s) => s.as_str().len() + FIELD,
            AnyValue::Bytes(b) => b.len() + FIELD,
            AnyValue::ListAny(l) => l.iter().map(any).sum::<usize>() + FIELD,
            AnyValue::Map(m) => {
                m.iter()
                    .map(|(k, v)| 2 * FIELD + k.as_str().len() + any(v))
                    .sum::<usize>()
                    + FIELD
            }
            _ => SCALAR,
        }
}

/// A log record: times, severity, ids, body, attributes, event name, and its scope (named after
/// the record's target when it has one, as the encoder groups them).
pub(crate) fn log(item: &LogItem) -> usize {
    let (r, s) = item;
    let name = r.target().map_or(s.name(), |t| t.as_ref());
    REQUEST
        + LOG_FIXED
        + scope(s, name)
        + r.severity_text().map_or(0, str::len)
        + r.body().map_or(0, any)
        + r.event_name().map_or(0, str::len)
        + r.attributes_iter()
            .map(|(k, v)| 2 * FIELD + k.as_str().len() + any(v))
            .sum::<usize>()
}

#[cfg(test)]
mod tests;
