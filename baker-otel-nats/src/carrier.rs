//! [`Injector`] / [`Extractor`] carriers for [`async_nats::HeaderMap`].
//!
//! Both never panic: async-nats' `insert`/`get` with `&str` names assert on invalid names, so
//! the carriers only use the fallible `HeaderName::from_str` and validate values themselves.
//! Header names are the plain W3C ones (`traceparent`, `tracestate`, `baggage`), so any
//! OpenTelemetry SDK using a standard text-map carrier over NATS headers interoperates.
//!
//! Skipped on extraction (the propagator then sees "absent"): names that are not valid NATS
//! header names, values over [`MAX_VALUE_LEN`] bytes, and headers present more than once
//! (ambiguous — W3C says a repeated `traceparent` is invalid). When the exact lower-case name is
//! missing, a single case-insensitive match is accepted (Go's `propagation.HeaderCarrier`
//! canonicalises to `Traceparent`).
//!
//! ```
//! use baker_otel_nats::{HeaderExtractor, HeaderInjector};
//! use opentelemetry::propagation::{Extractor, Injector};
//!
//! let mut headers = async_nats::HeaderMap::new();
//! HeaderInjector(&mut headers).set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
//! HeaderInjector(&mut headers).set("bad:name", "skipped, no panic".into());
//! assert_eq!(
//!     HeaderExtractor(&headers).get("traceparent"),
//!     Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
//! );
//! assert_eq!(headers.len(), 1);
//! ```

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;
use baker_otel::propagation::{Field, FieldValues, OutboundCarrier};
use opentelemetry::propagation::{Extractor, Injector};
use serde::de::value::StringDeserializer;
use serde::Deserialize;
use std::str::FromStr;

/// Largest header value injected or extracted (8 KiB, the W3C baggage limit); longer ones are skipped.
pub const MAX_VALUE_LEN: usize = baker_otel::propagation::MAX_VALUE_LEN;

pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub(crate) const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
pub(crate) const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// A header name without allocation for the W3C names, fallibly parsed otherwise.
#[inline]
pub(crate) fn header_name(key: &str) -> Option<HeaderName> {
    match key {
        "traceparent" => Some(TRACEPARENT),
        "tracestate" => Some(TRACESTATE),
        "baggage" => Some(BAGGAGE),
        _ => HeaderName::from_str(key).ok(),
    }
}

/// Converts `value` to a header value unless it is oversize or contains CR/LF (no copy).
#[inline]
pub(crate) fn header_value(value: String) -> Option<HeaderValue> {
    if value.len() > MAX_VALUE_LEN || has_cr_or_lf(value.as_bytes()) {
        return None;
    }
    checked_header_value(value)
}

/// Whether `s` holds a CR or LF byte (memchr's vectorised search).
#[inline]
fn has_cr_or_lf(s: &[u8]) -> bool {
    memchr::memchr2(b'\r', b'\n', s).is_some()
}

/// A header value from a string the caller has checked for CR/LF, without copying it and
/// without async-nats checking it again: `HeaderValue`'s constructors all re-scan the value
/// with a `char` pattern (the largest cost of an inject after the allocations; the bench's
/// docs give the count), while its `Deserialize` (`#[serde(transparent)]` over the `String`) takes the
/// string as it is. `None` only if that impl ever stops accepting a plain string (a unit test
/// pins it).
#[inline]
pub(crate) fn checked_header_value(value: String) -> Option<HeaderValue> {
    debug_assert!(!has_cr_or_lf(value.as_bytes()));
    HeaderValue::deserialize(StringDeserializer::<serde::de::value::Error>::new(value)).ok()
}

/// Writes propagation fields into a NATS [`HeaderMap`], replacing existing values.
///
/// ```
/// use opentelemetry::propagation::Injector;
/// let mut headers = async_nats::HeaderMap::new();
/// baker_otel_nats::HeaderInjector(&mut headers).set("baggage", "k=v".into());
/// assert_eq!(headers.get("baggage").map(|v| v.as_str()), Some("k=v"));
/// ```
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Some(name), Some(value)) = (header_name(key), header_value(value)) {
            self.0.insert(name, value);
        }
    }
}

/// Policy-aware injection ([`inject_allowed`](crate::propagation::inject_allowed)): NATS header
/// names are case-sensitive, but a consumer accepts `Baggage` when `baggage` is missing, so
/// setting or removing a field takes **every spelling** of its name (and every value).
///
/// ```
/// use baker_otel::propagation::{Field, OutboundCarrier};
/// let mut headers = async_nats::HeaderMap::new();
/// headers.insert("Baggage", "forwarded=1");
/// headers.insert("Nats-Msg-Id", "job-42");
/// baker_otel_nats::HeaderInjector(&mut headers).remove_field(Field::Baggage);
/// assert_eq!(headers.len(), 1);
/// ```
impl OutboundCarrier for HeaderInjector<'_> {
    fn set_field(&mut self, field: Field, value: String) {
        let value = match field {
            // 55 bytes of hex digits and `-`: nothing to check.
            Field::TraceParent => checked_header_value(value),
            _ => header_value(value),
        };
        let Some(value) = value else { return };
        let name = field.name();
        if self
            .0
            .iter()
            .any(|(k, _)| str_of(k) != name && str_of(k).eq_ignore_ascii_case(name))
        {
            remove_every_spelling(self.0, name);
        }
        if let Some(name) = header_name(name) {
            self.0.insert(name, value);
        }
    }

    fn remove_field(&mut self, field: Field) {
        let name = field.name();
        if self
            .0
            .iter()
            .any(|(k, _)| str_of(k).eq_ignore_ascii_case(name))
        {
            remove_every_spelling(self.0, name);
        }
    }
}

fn str_of(name: &HeaderName) -> &str {
    name.as_ref()
}

/// Rebuilds `map` without the headers named `name` in any spelling (async-nats' `HeaderMap`
/// has no removal).
fn remove_every_spelling(map: &mut HeaderMap, name: &str) {
    let old = std::mem::take(map);
    for (k, values) in old.iter() {
        if !str_of(k).eq_ignore_ascii_case(name) {
            for v in values {
                map.append(k.clone(), v.clone());
            }
        }
    }
}

/// Reads propagation fields from a NATS [`HeaderMap`]; names that are not valid NATS header names, values over [`MAX_VALUE_LEN`] bytes and repeated headers are skipped.
///
/// ```
/// use opentelemetry::propagation::Extractor;
/// let mut headers = async_nats::HeaderMap::new();
/// headers.append("traceparent", "a");
/// headers.append("traceparent", "b"); // repeated: ambiguous, skipped
/// assert_eq!(baker_otel_nats::HeaderExtractor(&headers).get("traceparent"), None);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl<'a> HeaderExtractor<'a> {
    /// The single acceptable value of `key`, if any (no allocation for the W3C names).
    #[inline]
    pub fn value(&self, key: &str) -> Option<&'a str> {
        let map = self.0;
        if map.is_empty() {
            return None;
        }
        if let Some(name) = header_name(key) {
            if let Some(v) = single(map.get_all(name)) {
                return accept(v);
            }
        }
        let mut folded = Folded::default();
        for (name, values) in map.iter() {
            let n: &str = name.as_ref();
            if n != key && n.eq_ignore_ascii_case(key) {
                folded.add(values);
            }
        }
        folded.value()
    }

    /// `[traceparent, tracestate, baggage]`, each exactly as [`value`](Self::value) would return
    /// it, found in one pass over the map instead of three hashed lookups (SipHash dominates
    /// a lookup in the small maps messages carry).
    pub(crate) fn w3c_values(&self) -> FieldValues<'a> {
        let mut exact: [Option<&'a [HeaderValue]>; 3] = [None; 3];
        let mut folded = [Folded::default(); 3];
        for (name, values) in self.0.iter() {
            let n: &str = name.as_ref();
            for (i, w3c) in W3C_NAMES.iter().enumerate() {
                if n.len() != w3c.len() {
                    continue;
                }
                if n == *w3c {
                    exact[i] = Some(values);
                } else if n.eq_ignore_ascii_case(w3c) {
                    folded[i].add(values);
                }
            }
        }
        let [traceparent, tracestate, baggage]: [Option<&'a str>; 3] =
            std::array::from_fn(|i| match exact[i].and_then(|vs| single(vs.iter())) {
                Some(v) => accept(v),
                None => folded[i].value(),
            });
        FieldValues::new(traceparent, tracestate, baggage)
    }
}

/// The W3C names [`HeaderExtractor::w3c_values`] looks up, in its output order.
const W3C_NAMES: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// The case-insensitive, non-exact matches of one name: how many, and the last one seen.
#[derive(Debug, Clone, Copy, Default)]
struct Folded<'a> {
    count: usize,
    values: Option<&'a [HeaderValue]>,
}

impl<'a> Folded<'a> {
    fn add(&mut self, values: &'a [HeaderValue]) {
        self.count += 1;
        self.values = Some(values);
    }

    /// The fallback when the exact name has no single value: exactly one case-insensitive
    /// match (e.g. Go's canonical `Traceparent`) with exactly one acceptable value.
    fn value(self) -> Option<&'a str> {
        match (self.count, self.values) {
            (1, Some([v])) => accept(v.as_str()),
            _ => None,
        }
    }
}

#[inline]
fn single<'a>(mut it: impl Iterator<Item = &'a HeaderValue>) -> Option<&'a str> {
    let first = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some(first.as_str())
}

#[inline]
fn accept(v: &str) -> Option<&str> {
    (v.len() <= MAX_VALUE_LEN).then_some(v)
}

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.value(key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_invalid_names_and_values() {
        let mut h = HeaderMap::new();
        let mut inj = HeaderInjector(&mut h);
        inj.set("bad name", "v".into());
        inj.set("bad:name", "v".into());
        inj.set("ünï", "v".into());
        inj.set("ok", "a\r\nb".into());
        inj.set("big", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(h.is_empty());
        let ex = HeaderExtractor(&h);
        assert_eq!(ex.get("bad name"), None);
        assert_eq!(ex.get(""), None);
    }

    #[test]
    fn case_insensitive_fallback_only_when_unambiguous() {
        let mut h = HeaderMap::new();
        h.insert("Traceparent", "x");
        assert_eq!(HeaderExtractor(&h).get("traceparent"), Some("x"));
        h.insert("TRACEPARENT", "y");
        assert_eq!(HeaderExtractor(&h).get("traceparent"), None);
        h.insert("traceparent", "z");
        assert_eq!(HeaderExtractor(&h).get("traceparent"), Some("z"));
    }

    #[test]
    fn one_pass_lookup_matches_value() {
        let names = [
            "traceparent",
            "Traceparent",
            "TRACEPARENT",
            "tracestate",
            "TraceState",
            "baggage",
            "BAGGAGE",
            "other",
            "trace-parent",
        ];
        // Every subset of names, with one or two values each, oversize included.
        for mask in 0u32..(1 << names.len()) {
            for repeat in [false, true] {
                let mut h = HeaderMap::new();
                for (i, n) in names.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        h.append(*n, format!("{n}-{i}"));
                        if repeat && i % 3 == 0 {
                            h.append(*n, "x".repeat(MAX_VALUE_LEN + 1));
                        }
                    }
                }
                let ex = HeaderExtractor(&h);
                let [tp, ts, bg] = W3C_NAMES.map(|n| ex.value(n));
                assert_eq!(ex.w3c_values(), FieldValues::new(tp, ts, bg), "{h:?}");
            }
        }
    }

    #[test]
    fn checked_values_are_the_values_async_nats_builds() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        for v in [tp, "", "k=v,gen_ai.conversation.id=conv%2C1;p", "ü ñ"] {
            let ours = checked_header_value(v.to_owned()).expect("deserialises");
            assert_eq!(ours, HeaderValue::from(v));
            assert_eq!(ours.as_str(), v);
            assert_eq!(header_value(v.to_owned()), Some(HeaderValue::from(v)));
        }
        for bad in ["a\rb", "\n", "x\r\n"] {
            assert_eq!(header_value(bad.to_owned()), None);
        }
    }

    #[test]
    fn cr_lf_found_at_every_offset() {
        for len in 0..40 {
            let clean = "ab=cd,".repeat(7)[..len].to_owned();
            assert!(!has_cr_or_lf(clean.as_bytes()));
            for at in 0..len {
                for c in ['\r', '\n'] {
                    let mut s = clean.clone().into_bytes();
                    s[at] = c as u8;
                    assert!(has_cr_or_lf(&s), "{len} {at}");
                }
            }
        }
        // Bytes around CR/LF (0x0c, 0x0e, 0x8d, 0x8a) are not false positives.
        assert!(!has_cr_or_lf(&[
            0x0c, 0x0e, 0x8d, 0x8a, 0x0b, 0x09, 0x0c, 0x0e, 0x8d
        ]));
    }

    #[test]
    fn policy_writes_take_every_spelling_and_keep_other_headers() {
        let mut h = HeaderMap::new();
        h.append("Baggage", "a=1");
        h.append("BAGGAGE", "b=2");
        h.append("Nats-Msg-Id", "m-1");
        h.append("Nats-Msg-Id", "m-2");
        HeaderInjector(&mut h).set_field(Field::Baggage, "ours=1".into());
        assert_eq!(HeaderExtractor(&h).get("baggage"), Some("ours=1"));
        assert_eq!(h.len(), 2, "{h:?}");
        HeaderInjector(&mut h).remove_field(Field::Baggage);
        assert_eq!(h.get_all("Nats-Msg-Id").count(), 2, "{h:?}");
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn oversize_values_are_skipped() {
        let mut h = HeaderMap::new();
        h.insert("baggage", "k=".to_string() + &"v".repeat(100_000));
        assert_eq!(HeaderExtractor(&h).get("baggage"), None);
    }
}
