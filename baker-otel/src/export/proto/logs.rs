//! `ExportLogsServiceRequest` from `SdkLogRecord`s (see the [module](super) docs).

use super::wire::*;
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::{InstrumentationScope, Key};
use opentelemetry_proto::tonic::common::v1 as pb_common;
use opentelemetry_proto::transform::common::tonic::Attributes;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::Resource;
use prost::encoding::{encoded_len_varint, key_len};
use prost::Message;
use std::borrow::Borrow;

/// Encodes batches of log records as OTLP log export requests for one resource.
#[derive(Debug)]
pub(crate) struct LogEncoder(ResourceFrame);

/// The scope a record is exported under, as the upstream transform groups them: the record's
/// target (when it has one) as the name, the rest from the logger's scope.
#[derive(Clone, Copy)]
struct ScopeKey<'a> {
    name: &'a str,
    scope: &'a InstrumentationScope,
}

impl PartialEq for ScopeKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.scope, other.scope);
        self.name == other.name
            && a.version().unwrap_or_default() == b.version().unwrap_or_default()
            && a.schema_url().unwrap_or_default() == b.schema_url().unwrap_or_default()
            && a.attributes().eq(b.attributes())
    }
}

impl ScopeKey<'_> {
    fn encode(&self) -> Vec<u8> {
        pb_common::InstrumentationScope {
            name: self.name.to_owned(),
            version: self.scope.version().unwrap_or_default().to_owned(),
            attributes: Attributes::from(self.scope.attributes().cloned()).0,
            ..Default::default()
        }
        .encode_to_vec()
    }
}

impl LogEncoder {
    pub(crate) fn new(resource: &Resource) -> Self {
        Self(ResourceFrame::new(resource))
    }

    /// The protobuf bytes of an `ExportLogsServiceRequest` holding `records`: one `ResourceLogs`,
    /// one `ScopeLogs` per scope (the record's target as its name) in order of first
    /// appearance, records in batch order.
    pub(crate) fn encode<R>(&self, records: &[R]) -> Vec<u8>
    where
        R: Borrow<(SdkLogRecord, InstrumentationScope)>,
    {
        let mut groups: Vec<(ScopeKey<'_>, ScopeGroup)> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let (record, scope) = r.borrow();
            let key = ScopeKey {
                name: record.target().map_or(scope.name(), |t| t.as_ref()),
                scope,
            };
            let at = match groups.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    let g = ScopeGroup::new(key.encode(), scope.schema_url().unwrap_or_default());
                    groups.push((key, g));
                    groups.len() - 1
                }
            };
            groups[at].1.push(i, record_len(record));
        }
        let groups: Vec<ScopeGroup> = groups.into_iter().map(|(_, g)| g).collect();
        self.0
            .encode(&groups, |i, buf| put_record(&records[i].borrow().0, buf))
    }
}

fn severity(s: Option<Severity>) -> u64 {
    // `Severity`'s discriminants are the OTLP severity numbers (TRACE = 1 … FATAL4 = 24).
    s.map_or(0, |s| s as u64)
}

/// `AnyValue` body of a log value (lists and maps nest).
fn value_len(v: &AnyValue) -> usize {
    match v {
        AnyValue::Int(i) => key_len(3) + encoded_len_varint(*i as u64),
        AnyValue::Double(_) => key_len(4) + 8,
        AnyValue::String(s) => len_field(1, s.as_str().len()),
        AnyValue::Boolean(_) => key_len(2) + 1,
        AnyValue::Bytes(b) => len_field(7, b.len()),
        AnyValue::ListAny(l) => len_field(5, list_len(l)),
        AnyValue::Map(m) => len_field(6, map_len(m.iter())),
        // A value kind added upstream later: sent as an empty `AnyValue`.
        _ => 0,
    }
}

/// `ArrayValue` body.
fn list_len(l: &[AnyValue]) -> usize {
    l.iter().map(|v| len_field(1, value_len(v))).sum()
}

/// `KeyValueList` body, or the attributes of a record (the same repeated `KeyValue` field).
fn map_len<'a>(kvs: impl Iterator<Item = (&'a Key, &'a AnyValue)>) -> usize {
    kvs.map(|(k, v)| len_field(1, kv_len(k, v))).sum()
}

fn kv_len(k: &Key, v: &AnyValue) -> usize {
    str_len(1, k.as_str()) + len_field(2, value_len(v))
}

/// `LogRecord` body.
fn record_len(r: &SdkLogRecord) -> usize {
    let mut n = fixed64_len(1, r.timestamp().map_or(0, to_nanos));
    n += varint_len(2, severity(r.severity_number()));
    n += str_len(3, r.severity_text().unwrap_or_default());
    if let Some(body) = r.body() {
        n += len_field(5, value_len(body));
    }
    for (k, v) in r.attributes_iter() {
        n += len_field(6, kv_len(k, v));
    }
    if let Some(ctx) = r.trace_context() {
        n += ctx
            .trace_flags
            .map_or(0, |f| if f.to_u8() == 0 { 0 } else { key_len(8) + 4 });
        n += len_field(9, 16) + len_field(10, 8);
    }
    n += fixed64_len(11, r.observed_timestamp().map_or(0, to_nanos));
    n += str_len(12, r.event_name().unwrap_or_default());
    n
}

fn put_value(v: &AnyValue, buf: &mut Vec<u8>) {
    match v {
        AnyValue::Int(i) => put_i64(*i, buf),
        AnyValue::Double(f) => put_f64(*f, buf),
        AnyValue::String(s) => put_bytes(1, s.as_str().as_bytes(), buf),
        AnyValue::Boolean(b) => put_bool(*b, buf),
        AnyValue::Bytes(b) => put_bytes(7, b, buf),
        AnyValue::ListAny(l) => {
            put_header(5, list_len(l), buf);
            for v in l.iter() {
                put_header(1, value_len(v), buf);
                put_value(v, buf);
            }
        }
        AnyValue::Map(m) => {
            put_header(6, map_len(m.iter()), buf);
            for (k, v) in m.iter() {
                put_kv(1, k, v, buf);
            }
        }
        _ => {}
    }
}

fn put_kv(tag: u32, k: &Key, v: &AnyValue, buf: &mut Vec<u8>) {
    put_header(tag, kv_len(k, v), buf);
    put_str(1, k.as_str(), buf);
    put_header(2, value_len(v), buf);
    put_value(v, buf);
}

fn put_record(r: &SdkLogRecord, buf: &mut Vec<u8>) {
    put_fixed64(1, r.timestamp().map_or(0, to_nanos), buf);
    put_varint(2, severity(r.severity_number()), buf);
    put_str(3, r.severity_text().unwrap_or_default(), buf);
    if let Some(body) = r.body() {
        put_header(5, value_len(body), buf);
        put_value(body, buf);
    }
    for (k, v) in r.attributes_iter() {
        put_kv(6, k, v, buf);
    }
    if let Some(ctx) = r.trace_context() {
        let flags = ctx.trace_flags.map_or(0, |f| u32::from(f.to_u8()));
        if flags != 0 {
            put_fixed32(8, flags, buf);
        }
        put_bytes(9, &ctx.trace_id.to_bytes(), buf);
        put_bytes(10, &ctx.span_id.to_bytes(), buf);
    }
    put_fixed64(11, r.observed_timestamp().map_or(0, to_nanos), buf);
    put_str(12, r.event_name().unwrap_or_default(), buf);
}

#[cfg(test)]
mod tests;
