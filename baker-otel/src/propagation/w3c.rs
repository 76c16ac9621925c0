//! The allocation-light W3C trace-context + baggage codec.
//!
//! Byte-for-byte the SDK propagators' behaviour for the canonical forms (a differential property
//! test holds it to that); anything unusual — a non-canonical `traceparent`, percent-escapes or
//! properties in `baggage`, an oversize header — is handed to the SDK propagator itself. Two
//! visible differences: an *empty* `tracestate` is omitted (the SDK writes `tracestate:` with no
//! value; W3C treats both the same), and an extracted `tracestate` is capped at
//! [`MAX_TRACESTATE_LEN`](super::MAX_TRACESTATE_LEN) bytes (module `tracestate`; the SDK keeps
//! up to ~16 KiB).

use crate::context::{CONVERSATION_ID, JOB_ID};
use opentelemetry::baggage::{BaggageExt, BaggageMetadata, KeyValueMetadata};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, Key};
use opentelemetry_sdk::propagation::BaggagePropagator;

/// The SDK's limits for an extracted baggage header.
pub(crate) const MAX_BAGGAGE_LENGTH: usize = 8192;
const MAX_BAGGAGE_ITEMS: usize = 64;
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// One of the three W3C propagation fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `traceparent`.
    TraceParent,
    /// `tracestate`.
    TraceState,
    /// `baggage`.
    Baggage,
}

impl Field {
    /// The header name (lower case).
    ///
    /// ```
    /// assert_eq!(baker_otel::propagation::Field::Baggage.name(), "baggage");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Field::TraceParent => "traceparent",
            Field::TraceState => "tracestate",
            Field::Baggage => "baggage",
        }
    }
}

/// The raw values of the three fields as a carrier read them (absent = `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldValues<'a> {
    /// `traceparent`.
    pub traceparent: Option<&'a str>,
    /// `tracestate`.
    pub tracestate: Option<&'a str>,
    /// `baggage`.
    pub baggage: Option<&'a str>,
}

impl<'a> FieldValues<'a> {
    /// Reads the three fields from any [`Extractor`].
    ///
    /// ```
    /// let mut h = std::collections::HashMap::new();
    /// h.insert("baggage".to_string(), "k=v".to_string());
    /// let v = baker_otel::propagation::FieldValues::from_extractor(&h);
    /// assert_eq!(v.baggage, Some("k=v"));
    /// ```
    pub fn from_extractor(carrier: &'a dyn Extractor) -> Self {
        Self {
            traceparent: carrier.get(Field::TraceParent.name()),
            tracestate: carrier.get(Field::TraceState.name()),
            baggage: carrier.get(Field::Baggage.name()),
        }
    }

    /// The three values given explicitly.
    ///
    /// ```
    /// let v = baker_otel::propagation::FieldValues::new(None, None, Some("k=v"));
    /// assert!(v.traceparent.is_none());
    /// ```
    pub fn new(
        traceparent: Option<&'a str>,
        tracestate: Option<&'a str>,
        baggage: Option<&'a str>,
    ) -> Self {
        Self {
            traceparent,
            tracestate,
            baggage,
        }
    }

    fn is_empty(&self) -> bool {
        self.traceparent.is_none() && self.tracestate.is_none() && self.baggage.is_none()
    }
}

impl Extractor for FieldValues<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent,
            "tracestate" => self.tracestate,
            "baggage" => self.baggage,
            _ => None,
        }
    }
    fn keys(&self) -> Vec<&str> {
        [
            (Field::TraceParent, self.traceparent),
            (Field::TraceState, self.tracestate),
            (Field::Baggage, self.baggage),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.map(|_| f.name()))
        .collect()
    }
}

/// Writes the trace context of `cx` (when valid) through `set`.
pub(crate) fn inject_trace_context(cx: &Context, set: &mut dyn FnMut(Field, String)) {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return;
    }
    set(
        Field::TraceParent,
        super::hex::as_str(&super::hex::traceparent(sc)).to_owned(),
    );
    let ts = sc.trace_state().header();
    if !ts.is_empty() {
        set(Field::TraceState, ts);
    }
}

/// Writes the baggage of `cx` (when any) through `set`, encoded as the SDK's
/// `BaggagePropagator` does: `key=value[;metadata]` joined by `,`, with controls, space, `"`,
/// `;`, `,`, `=` and non-ASCII bytes percent-encoded (upper-case hex).
pub(crate) fn inject_baggage(cx: &Context, set: &mut dyn FnMut(Field, String)) {
    let baggage = cx.baggage();
    if baggage.is_empty() {
        return;
    }
    // Exact unless something needs percent-encoding: one allocation for UUID-sized ids too.
    let len = baggage
        .iter()
        .map(|(k, (v, m))| k.as_str().len() + v.as_str().len() + m.as_str().len() + 3)
        .sum();
    let mut out = String::with_capacity(len);
    for (i, (name, (value, metadata))) in baggage.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match name.as_str() {
            // Known keys: nothing to trim or encode.
            key @ (CONVERSATION_ID | JOB_ID) => out.push_str(key),
            key => encode_into(&mut out, trim(key)),
        }
        out.push('=');
        encode_into(&mut out, trim(value.as_str()));
        let md = trim(metadata.as_str());
        if !md.is_empty() {
            out.push(';');
            out.push_str(md);
        }
    }
    set(Field::Baggage, out);
}

/// The bytes [`encode_into`] percent-encodes: controls, space, `"`, `,`, `;`, `=`, DEL and
/// non-ASCII (one table lookup per byte).
const NEEDS_ENCODING: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b < 0x21 || b >= 0x7f || matches!(b as u8, b'"' | b';' | b',' | b'=');
        b += 1;
    }
    t
};

fn encode_into(out: &mut String, s: &str) {
    let needs = |b: u8| NEEDS_ENCODING[usize::from(b)];
    if !s.bytes().any(needs) {
        out.push_str(s);
        return;
    }
    for b in s.bytes() {
        if needs(b) {
            out.push('%');
            out.push(HEX_UPPER[usize::from(b >> 4)] as char);
            out.push(HEX_UPPER[usize::from(b & 0xf)] as char);
        } else {
            out.push(b as char);
        }
    }
}

/// Adds the remote span context of `v` (if valid) to `cx`.
pub(crate) fn extract_trace_context(cx: &Context, v: &FieldValues<'_>) -> Context {
    let Some(tp) = v.traceparent else {
        return cx.clone();
    };
    match parse_canonical(tp) {
        Some((trace_id, span_id, flags)) => {
            let ts = match v.tracestate {
                Some(s) => super::tracestate::parse(s),
                None => TraceState::default(),
            };
            let sc = SpanContext::new(trace_id, span_id, flags, true, ts);
            if sc.is_valid() {
                cx.with_remote_span_context(sc)
            } else {
                cx.clone()
            }
        }
        None => super::tracestate::CappedTraceContext::default().extract_with_context(cx, v),
    }
}

/// Adds the baggage of `v` to `cx`. `filter` decides per key which entries are kept.
pub(crate) fn extract_baggage(
    cx: &Context,
    v: &FieldValues<'_>,
    filter: Option<&dyn Fn(&str) -> bool>,
) -> Context {
    let Some(b) = v.baggage else {
        return cx.clone();
    };
    if b.len() > MAX_BAGGAGE_LENGTH || contains_either(b.as_bytes(), b'%', b';') {
        let full = BaggagePropagator::new().extract_with_context(cx, v);
        return match filter {
            None => full,
            Some(keep) => {
                let kept: Vec<KeyValueMetadata> = full
                    .baggage()
                    .iter()
                    .filter(|(k, _)| keep(k.as_str()))
                    .map(|(k, (v, m))| KeyValueMetadata::new(k.clone(), v.clone(), m.clone()))
                    .collect();
                cx.with_baggage(kept)
            }
        };
    }
    // Byte-wise splitting (`,` and `=` are ASCII, so every offset is a char boundary): no
    // `memchr` call per item, which costs more than the scan on headers this short.
    let mut start = 0;
    let items = b
        .as_bytes()
        .split(|&c| c == b',')
        .take(MAX_BAGGAGE_ITEMS)
        .filter_map(move |item| {
            let at = start;
            start += item.len() + 1;
            // `k=v` (the SDK ignores anything after a second `=`).
            let eq = item.iter().position(|&c| c == b'=')?;
            let k = trim(b.get(at..at + eq)?);
            if filter.is_some_and(|keep| !keep(k)) {
                return None;
            }
            let rest = &item[eq + 1..];
            let v_len = rest.iter().position(|&c| c == b'=').unwrap_or(rest.len());
            let v = trim(b.get(at + eq + 1..at + eq + 1 + v_len)?);
            Some(KeyValueMetadata::new(
                baggage_key(k),
                v.to_owned(),
                BaggageMetadata::default(),
            ))
        });
    cx.with_baggage(items)
}

/// Whether `s` holds `x` or `y` (memchr's vectorised search: one pass over the header).
fn contains_either(s: &[u8], x: u8, y: u8) -> bool {
    memchr::memchr2(x, y, s).is_some()
}

/// Whether nothing would be extracted from `v`.
pub(crate) fn nothing_to_extract(v: &FieldValues<'_>) -> bool {
    v.is_empty()
}

/// `str::trim`, without walking the string when neither end can be whitespace (the usual case).
#[inline]
fn trim(s: &str) -> &str {
    let solid = |b: u8| b < 0x80 && !(b as char).is_whitespace();
    match s.as_bytes() {
        [first, .., last] if solid(*first) && solid(*last) => s,
        [only] if solid(*only) => s,
        _ => s.trim(),
    }
}

/// The Baker ids travel on every message: their keys need no allocation.
fn baggage_key(k: &str) -> Key {
    match k {
        CONVERSATION_ID => Key::from_static_str(CONVERSATION_ID),
        JOB_ID => Key::from_static_str(JOB_ID),
        _ => Key::new(k.to_owned()),
    }
}

/// Parses exactly `00-<32 lower hex>-<16 lower hex>-<2 lower hex>`; `None` for anything else.
fn parse_canonical(tp: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let b = tp.as_bytes();
    if b.len() != 55 || &b[..3] != b"00-" || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let parse = super::hex::parse_lower;
    let trace = parse(&b[3..35])?;
    let span = u64::try_from(parse(&b[36..52])?).ok()?;
    let flags = u8::try_from(parse(&b[53..55])?).ok()?;
    Some((
        TraceId::from(trace),
        SpanId::from(span),
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
    ))
}

#[cfg(test)]
mod tests;
