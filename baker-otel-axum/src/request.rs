//! Static, allocation-free views of request properties (method, protocol, host).

use http::{Method, Uri, Version};

/// Values of `http.request.method`, indexed by [`method_slot`]; the last one is `_OTHER`.
pub(crate) const METHODS: [&str; 10] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "_OTHER",
];

/// Slot of [`METHODS`] holding `_OTHER` (extension methods).
pub(crate) const OTHER_METHOD: usize = METHODS.len() - 1;

/// Index in [`METHODS`] of the semconv value of `http.request.method`: a known method, or
/// [`OTHER_METHOD`] for an extension method (recorded as `_OTHER` +
/// `http.request.method_original`).
#[inline]
pub(crate) fn method_slot(m: &Method) -> usize {
    match *m {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::PATCH => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        Method::CONNECT => 7,
        Method::TRACE => 8,
        _ => OTHER_METHOD,
    }
}

/// The semconv value of `http.request.method`: the canonical name of a known method, or
/// `None` for an extension method (recorded as `_OTHER` + `http.request.method_original`).
#[inline]
pub(crate) fn known_method(m: &Method) -> Option<&'static str> {
    let slot = method_slot(m);
    (slot != OTHER_METHOD).then_some(METHODS[slot])
}

/// `network.protocol.version`.
#[inline]
pub(crate) fn protocol_version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "_OTHER",
    }
}

/// `url.scheme` of an incoming request (absolute-form / HTTP/2 `:scheme`, else `http`).
#[inline]
pub(crate) fn scheme(uri: &Uri) -> &'static str {
    match uri.scheme_str() {
        Some("https") => "https",
        _ => "http",
    }
}

/// `server.address` and `server.port` from the URI authority or `host`, the request's
/// `Host` header value.
pub(crate) fn host_port<'a>(
    uri: &'a Uri,
    host: Option<&'a http::HeaderValue>,
) -> (Option<&'a str>, Option<u16>) {
    if let Some(a) = uri.authority() {
        return (Some(a.host()), a.port_u16());
    }
    match host.and_then(|h| h.to_str().ok()) {
        Some(h) => split_host(h),
        None => (None, None),
    }
}

fn split_host(h: &str) -> (Option<&str>, Option<u16>) {
    if let Some(rest) = h.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((host, tail)) => (
                Some(host),
                tail.strip_prefix(':').and_then(|p| p.parse().ok()),
            ),
            None => (None, None),
        };
    }
    match h.rsplit_once(':') {
        Some((host, port)) => (Some(host), port.parse().ok()),
        None => (Some(h), None),
    }
}

/// `url.full` for a client request without userinfo, query or fragment (which may hold secrets).
pub(crate) fn url_without_query(uri: &Uri) -> Option<String> {
    let scheme = uri.scheme_str()?;
    let auth = uri.authority()?;
    let host_port = auth.as_str().rsplit('@').next().unwrap_or_default();
    let path = uri.path();
    let mut s = String::with_capacity(scheme.len() + 3 + host_port.len() + path.len());
    s.push_str(scheme);
    s.push_str("://");
    s.push_str(host_port);
    s.push_str(path);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            split_host("example.com:8080"),
            (Some("example.com"), Some(8080))
        );
        assert_eq!(split_host("example.com"), (Some("example.com"), None));
        assert_eq!(split_host("[::1]:80"), (Some("::1"), Some(80)));
        assert_eq!(split_host("[::1"), (None, None));
        assert_eq!(split_host("h:notaport"), (Some("h"), None));
    }

    #[test]
    fn urls_drop_secrets() {
        let u: Uri = "https://user:pw@api.example.com:8443/v1/x?token=s3cret#f"
            .parse()
            .unwrap();
        assert_eq!(
            url_without_query(&u).unwrap(),
            "https://api.example.com:8443/v1/x"
        );
        assert_eq!(url_without_query(&"/relative".parse().unwrap()), None);
    }

    #[test]
    fn methods() {
        assert_eq!(known_method(&Method::GET), Some("GET"));
        assert_eq!(known_method(&Method::from_bytes(b"PURGE").unwrap()), None);
        for (i, m) in METHODS[..OTHER_METHOD].iter().enumerate() {
            assert_eq!(method_slot(&Method::from_bytes(m.as_bytes()).unwrap()), i);
        }
        assert_eq!(
            method_slot(&Method::from_bytes(b"get").unwrap()),
            OTHER_METHOD
        );
    }
}
