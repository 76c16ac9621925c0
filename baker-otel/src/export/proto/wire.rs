//! Protobuf wire helpers shared by the span and log encoders (prost's primitives underneath),
//! and the framing both export requests share:
//! `Export*ServiceRequest { 1: Resource* { 1: resource, 2: Scope* { 1: scope, 2: items…,
//! 3: schema_url }…, 3: schema_url } }`.

use opentelemetry_proto::tonic::resource::v1 as pb_resource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};
use prost::Message;
use std::time::{SystemTime, UNIX_EPOCH};

/// The resource of every request of one pipeline, encoded once.
#[derive(Debug)]
pub(super) struct ResourceFrame {
    resource: Vec<u8>,
    schema_url: String,
}

/// One scope's items in a batch: its encoded `InstrumentationScope` and schema URL, the items'
/// batch indices with their encoded lengths, and the `Scope*` body length so far.
pub(super) struct ScopeGroup {
    scope: Vec<u8>,
    schema_url: String,
    items: Vec<(usize, usize)>,
    len: usize,
}

impl ScopeGroup {
    pub(super) fn new(scope: Vec<u8>, schema_url: &str) -> Self {
        Self {
            len: len_field(1, scope.len()) + str_len(3, schema_url),
            scope,
            schema_url: schema_url.to_owned(),
            items: Vec::new(),
        }
    }

    /// Adds item `index` of the batch, whose body is `len` bytes.
    pub(super) fn push(&mut self, index: usize, len: usize) {
        self.items.push((index, len));
        self.len += len_field(2, len);
    }
}

impl ResourceFrame {
    pub(super) fn new(resource: &Resource) -> Self {
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

    /// The request's bytes: one resource entry holding `groups` in order, each item written by
    /// `put_item(index, buf)` (which must write exactly the length the group recorded).
    pub(super) fn encode(
        &self,
        groups: &[ScopeGroup],
        mut put_item: impl FnMut(usize, &mut Vec<u8>),
    ) -> Vec<u8> {
        let rs_len = len_field(1, self.resource.len())
            + groups.iter().map(|g| len_field(2, g.len)).sum::<usize>()
            + str_len(3, &self.schema_url);
        let mut buf = Vec::with_capacity(len_field(1, rs_len));
        put_header(1, rs_len, &mut buf);
        put_bytes(1, &self.resource, &mut buf);
        for g in groups {
            put_header(2, g.len, &mut buf);
            put_bytes(1, &g.scope, &mut buf);
            for &(i, len) in &g.items {
                put_header(2, len, &mut buf);
                let at = buf.len();
                put_item(i, &mut buf);
                debug_assert_eq!(buf.len() - at, len, "item {i}: length computed vs written");
            }
            put_str(3, &g.schema_url, &mut buf);
        }
        put_str(3, &self.schema_url, &mut buf);
        debug_assert_eq!(buf.len(), buf.capacity());
        buf
    }
}

/// A length-delimited field of `len` body bytes.
#[inline]
pub(super) fn len_field(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// A proto3 string/bytes field: omitted when empty.
#[inline]
pub(super) fn str_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_field(tag, s.len())
    }
}

/// A proto3 varint field: omitted when zero.
#[inline]
pub(super) fn varint_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

/// A proto3 fixed64 field: omitted when zero.
#[inline]
pub(super) fn fixed64_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + 8
    }
}

pub(super) fn to_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[inline]
pub(super) fn put_header(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

#[inline]
pub(super) fn put_bytes(tag: u32, b: &[u8], buf: &mut Vec<u8>) {
    put_header(tag, b.len(), buf);
    buf.extend_from_slice(b);
}

#[inline]
pub(super) fn put_str(tag: u32, s: &str, buf: &mut Vec<u8>) {
    if !s.is_empty() {
        put_bytes(tag, s.as_bytes(), buf);
    }
}

#[inline]
pub(super) fn put_varint(tag: u32, v: u64, buf: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(v, buf);
    }
}

#[inline]
pub(super) fn put_fixed64(tag: u32, v: u64, buf: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::SixtyFourBit, buf);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

#[inline]
pub(super) fn put_fixed32(tag: u32, v: u32, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::ThirtyTwoBit, buf);
    buf.extend_from_slice(&v.to_le_bytes());
}

pub(super) fn put_bool(b: bool, buf: &mut Vec<u8>) {
    encode_key(2, WireType::Varint, buf);
    encode_varint(u64::from(b), buf);
}

pub(super) fn put_i64(i: i64, buf: &mut Vec<u8>) {
    encode_key(3, WireType::Varint, buf);
    encode_varint(i as u64, buf);
}

pub(super) fn put_f64(f: f64, buf: &mut Vec<u8>) {
    encode_key(4, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&f.to_le_bytes());
}
