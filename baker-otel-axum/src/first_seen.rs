//! Per-layer caches of the request values a server usually sees on every request: the first
//! `User-Agent` and the first authority (`Host`). One value each, held by the layer (not by
//! the process) and shared by reference count; any other value is copied per request.

use http::{HeaderValue, Uri};
use opentelemetry::StringValue;
use std::sync::{Arc, OnceLock};

/// `s` as a [`StringValue`] whose clones bump a reference count instead of copying.
pub(crate) fn shared_value(s: &str) -> StringValue {
    StringValue::from(Arc::<str>::from(s))
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
    fn shared_values_share_one_string() {
        let v = shared_value("curl/8.5.0");
        assert_eq!(v.as_str(), "curl/8.5.0");
        assert!(std::ptr::eq(v.as_str(), v.clone().as_str()));
    }
}
