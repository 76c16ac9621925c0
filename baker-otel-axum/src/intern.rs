//! Allocation-free attribute values on the hot path: interned span names and first-seen
//! strings.

use http::{HeaderMap, Uri};
use opentelemetry::StringValue;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Most distinct span names ever interned by the process (bounded leak; beyond it names are
/// formatted per request).
const MAX_NAMES: usize = 1024;

static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// `name` as a `&'static str`, shared by every layer of the process, or `None` once
/// [`MAX_NAMES`] names exist. Span names are `{METHOD} {route template}`: a small, fixed set per
/// application, so leaking each one once replaces an allocation per request.
pub(crate) fn intern_name(name: String) -> Option<&'static str> {
    let mut guard = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let set = guard.get_or_insert_with(HashSet::new);
    if let Some(s) = set.get(name.as_str()) {
        return Some(s);
    }
    if set.len() >= MAX_NAMES {
        return None;
    }
    let s: &'static str = Box::leak(name.into_boxed_str());
    set.insert(s);
    Some(s)
}

/// Remembers the first value seen (e.g. the `Host` a server is reached by) and hands out
/// reference-counted copies of it; other values are copied per call.
#[derive(Debug, Default)]
pub(crate) struct FirstSeen(OnceLock<Arc<str>>);

impl FirstSeen {
    /// `s` as a [`StringValue`], without allocating when it is the first value seen.
    #[inline]
    pub(crate) fn value(&self, s: &str) -> StringValue {
        match self.get(s) {
            Some(a) => StringValue::from(a.clone()),
            None => StringValue::from(s.to_owned()),
        }
    }

    /// The remembered value when it equals `s`.
    #[inline]
    pub(crate) fn get(&self, s: &str) -> Option<&Arc<str>> {
        let cached = self.0.get_or_init(|| Arc::from(s));
        (cached.as_ref() == s).then_some(cached)
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
    host: Option<Arc<str>>,
    port: Option<u16>,
}

impl FirstAuthority {
    /// `server.address` and `server.port` of a request: a comparison with the first
    /// authority seen instead of UTF-8 validation, a split and a copy.
    #[inline]
    pub(crate) fn split(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> (Option<StringValue>, Option<u16>) {
        let raw = match uri.authority() {
            Some(a) => a.as_str().as_bytes(),
            None => match headers.get(http::header::HOST) {
                Some(h) => h.as_bytes(),
                None => return (None, None),
            },
        };
        let first = self.0.get_or_init(|| {
            let (host, port) = crate::request::host_port(uri, headers);
            Authority {
                raw: raw.into(),
                host: host.map(Arc::from),
                port,
            }
        });
        if *first.raw == *raw {
            return (first.host.clone().map(StringValue::from), first.port);
        }
        let (host, port) = crate::request::host_port(uri, headers);
        (host.map(|h| StringValue::from(h.to_owned())), port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deduplicated() {
        let a = intern_name("GET /a/{id}".to_owned()).unwrap();
        let b = intern_name("GET /a/{id}".to_owned()).unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "GET /a/{id}");
    }

    #[test]
    fn first_authority_is_split_once_and_others_each_time() {
        let a = FirstAuthority::default();
        let mut headers = HeaderMap::new();
        let origin: Uri = "/x".parse().unwrap();
        assert_eq!(a.split(&origin, &headers), (None, None));
        headers.insert(http::header::HOST, "example.com:8443".parse().unwrap());
        let (h, p) = a.split(&origin, &headers);
        assert_eq!((h.unwrap().as_str(), p), ("example.com", Some(8443)));
        let (h, p) = a.split(&origin, &headers);
        assert_eq!((h.unwrap().as_str(), p), ("example.com", Some(8443)));
        headers.insert(http::header::HOST, "[::1]:80".parse().unwrap());
        let (h, p) = a.split(&origin, &headers);
        assert_eq!((h.unwrap().as_str(), p), ("::1", Some(80)));
        // The request target's authority wins over `Host`.
        let absolute: Uri = "http://api.internal/x".parse().unwrap();
        let (h, p) = a.split(&absolute, &headers);
        assert_eq!((h.unwrap().as_str(), p), ("api.internal", None));
        // Not UTF-8: no address.
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        assert_eq!(a.split(&origin, &headers), (None, None));
    }

    #[test]
    fn first_seen_shares_only_the_first_value() {
        let f = FirstSeen::default();
        assert_eq!(f.value("localhost").as_str(), "localhost");
        assert!(f.get("localhost").is_some());
        assert!(f.get("example.com").is_none());
        assert_eq!(f.value("example.com").as_str(), "example.com");
    }
}
