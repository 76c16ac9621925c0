//! Allocation-free attribute values on the hot path: interned span names, routes and
//! first-seen strings.
//!
//! The values every request of a route repeats (its span name, `http.route`, the `Host` and
//! `User-Agent` a server is usually reached with) are interned as `&'static str` — a bounded,
//! process-wide leak — so that a request copies a pointer instead of allocating, and instead of
//! bumping an `Arc` count: the span's attributes are dropped on the export thread, so a shared
//! count would move between the application's core and the exporter's on every request.

use http::{HeaderValue, Uri};
use opentelemetry::StringValue;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Most distinct strings ever interned by the process (bounded leak; beyond it values are
/// formatted, copied or reference-counted per request). Span names (≤ 10 per route) and route
/// templates (one per route; a layer's registry holds up to 1024 routes) share it with the
/// first `User-Agent` and host of each layer.
const MAX_INTERNED: usize = 4096;

/// Longest string interned: the fixed values interning is for are short; anything longer is
/// reference-counted instead. With [`MAX_INTERNED`], the leak stays under 1 MiB (typically a
/// few KiB: names and routes are short).
const MAX_INTERNED_LEN: usize = 256;

static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// `s` as a `&'static str`, shared by every layer of the process, or `None` once
/// [`MAX_INTERNED`] strings exist or when `s` is longer than [`MAX_INTERNED_LEN`]. Span names
/// are `{METHOD} {route template}`: a small, fixed set per application, so leaking each one once
/// replaces an allocation per request; the same holds for route templates.
pub(crate) fn intern(s: &str) -> Option<&'static str> {
    if s.len() > MAX_INTERNED_LEN {
        return None;
    }
    let mut guard = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let set = guard.get_or_insert_with(HashSet::new);
    if let Some(s) = set.get(s) {
        return Some(s);
    }
    if set.len() >= MAX_INTERNED {
        return None;
    }
    let s: &'static str = Box::leak(s.into());
    set.insert(s);
    Some(s)
}

/// `s` as a [`StringValue`] whose clones copy a pointer: interned, else reference-counted.
pub(crate) fn shared_value(s: &str) -> StringValue {
    intern(s).map_or_else(|| StringValue::from(Arc::<str>::from(s)), StringValue::from)
}

/// Remembers the first value seen (e.g. the `User-Agent` of a server's usual client) and hands
/// out shared copies of it ([`shared_value`]); other values are copied per call.
#[derive(Debug, Default)]
pub(crate) struct FirstSeen(OnceLock<StringValue>);

impl FirstSeen {
    /// `s` as a [`StringValue`], without allocating when it is the first value seen.
    #[inline]
    pub(crate) fn value(&self, s: &str) -> StringValue {
        match self.get(s) {
            Some(v) => v.clone(),
            None => StringValue::from(s.to_owned()),
        }
    }

    /// The remembered value when it equals `s`.
    #[inline]
    pub(crate) fn get(&self, s: &str) -> Option<&StringValue> {
        let cached = self.0.get_or_init(|| shared_value(s));
        (cached.as_str() == s).then_some(cached)
    }
}

/// `server.address` and `server.port` of the first authority seen (the `Host` a server is
/// reached by), split once and shared; another authority is split per call.
#[derive(Debug, Default)]
pub(crate) struct FirstAuthority(OnceLock<Authority>);

#[derive(Debug)]
struct Authority {
    /// The authority as received: the request target's, else the `Host` header's.
    raw: Box<[u8]>,
    host: Option<StringValue>,
    port: Option<u16>,
}

impl FirstAuthority {
    /// `server.address` and `server.port` of a request (`host`: its `Host` header value): a
    /// comparison with the first authority seen instead of UTF-8 validation, a split and a
    /// copy.
    #[inline]
    pub(crate) fn split(
        &self,
        uri: &Uri,
        host: Option<&HeaderValue>,
    ) -> (Option<StringValue>, Option<u16>) {
        let raw = match uri.authority() {
            Some(a) => a.as_str().as_bytes(),
            None => match host {
                Some(h) => h.as_bytes(),
                None => return (None, None),
            },
        };
        let first = self.0.get_or_init(|| {
            let (host, port) = crate::request::host_port(uri, host);
            Authority {
                raw: raw.into(),
                host: host.map(shared_value),
                port,
            }
        });
        if *first.raw == *raw {
            return (first.host.clone(), first.port);
        }
        let (host, port) = crate::request::host_port(uri, host);
        (host.map(|h| StringValue::from(h.to_owned())), port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deduplicated() {
        let a = intern("GET /a/{id}").unwrap();
        let b = intern("GET /a/{id}").unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "GET /a/{id}");
    }

    /// `a.split` with the request's `Host` value, as the layer's header scan finds it.
    fn split(
        a: &FirstAuthority,
        uri: &Uri,
        headers: &http::HeaderMap,
    ) -> (Option<StringValue>, Option<u16>) {
        a.split(uri, headers.get(http::header::HOST))
    }

    #[test]
    fn first_authority_is_split_once_and_others_each_time() {
        let a = FirstAuthority::default();
        let mut headers = http::HeaderMap::new();
        let origin: Uri = "/x".parse().unwrap();
        assert_eq!(split(&a, &origin, &headers), (None, None));
        headers.insert(http::header::HOST, "example.com:8443".parse().unwrap());
        let (h, p) = split(&a, &origin, &headers);
        assert_eq!((h.unwrap().as_str(), p), ("example.com", Some(8443)));
        let (h, p) = split(&a, &origin, &headers);
        assert_eq!((h.unwrap().as_str(), p), ("example.com", Some(8443)));
        headers.insert(http::header::HOST, "[::1]:80".parse().unwrap());
        let (h, p) = split(&a, &origin, &headers);
        assert_eq!((h.unwrap().as_str(), p), ("::1", Some(80)));
        // The request target's authority wins over `Host`.
        let absolute: Uri = "http://api.internal/x".parse().unwrap();
        let (h, p) = split(&a, &absolute, &headers);
        assert_eq!((h.unwrap().as_str(), p), ("api.internal", None));
        // Not UTF-8: no address.
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        assert_eq!(split(&a, &origin, &headers), (None, None));
    }

    #[test]
    fn first_seen_shares_only_the_first_value() {
        let f = FirstSeen::default();
        assert_eq!(f.value("localhost").as_str(), "localhost");
        assert!(f.get("localhost").is_some());
        assert!(f.get("example.com").is_none());
        assert_eq!(f.value("example.com").as_str(), "example.com");
    }

    #[test]
    fn short_values_are_interned_and_long_ones_reference_counted() {
        let a = intern("curl/8.5.0").unwrap();
        assert!(std::ptr::eq(a, intern("curl/8.5.0").unwrap()));
        let long = "x".repeat(MAX_INTERNED_LEN + 1);
        assert_eq!(intern(&long), None);
        // Either way a value whose clones share one string.
        for s in ["curl/8.5.0", long.as_str()] {
            let v = shared_value(s);
            assert_eq!(v.as_str(), s);
            assert!(std::ptr::eq(v.as_str(), v.clone().as_str()));
        }
    }
}
