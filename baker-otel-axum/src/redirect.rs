//! Following one HTTP redirect by hand (feature `reqwest`): the next request of a chain, with
//! the method and body semantics of tower-http's `FollowRedirect` (which reqwest uses) and
//! reqwest's stripping of credentials on a hop to another origin.
//!
//! | status | method | body |
//! |---|---|---|
//! | 301, 302 | POST becomes GET, others kept | dropped with POST, else kept |
//! | 303 | GET (HEAD stays HEAD) | dropped |
//! | 307, 308 | kept | kept (not followed if it cannot be cloned, e.g. a stream) |
//!
//! A dropped body takes `Content-Type`, `Content-Length`, `Content-Encoding` and
//! `Transfer-Encoding` with it. A hop to another scheme, host or port loses `Authorization`,
//! `Cookie`, `Cookie2`, `Proxy-Authorization` and `WWW-Authenticate` — for the rest of the
//! chain (reqwest re-sends them once the chain comes back to a host it left; we do not). No
//! `Referer` is added. Propagation headers are not this module's business: the caller applies
//! the outbound policy to every hop.

use http::header::{
    HeaderMap, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use http::{Method, StatusCode};
use reqwest::{Request, Url};

/// A request kept before it is sent, to re-send it to a redirect's target.
pub(crate) struct Saved {
    /// The whole request, unless its body cannot be cloned (a stream).
    full: Option<Request>,
    /// The request without a body.
    bodiless: Request,
}

impl Saved {
    /// Keeps what re-sending `req` needs (a cheap copy: bodies are reference-counted bytes).
    pub(crate) fn of(req: &Request) -> Self {
        let mut bodiless = Request::new(req.method().clone(), req.url().clone());
        *bodiless.headers_mut() = req.headers().clone();
        *bodiless.version_mut() = req.version();
        *bodiless.timeout_mut() = req.timeout().copied();
        Self {
            full: req.try_clone(),
            bodiless,
        }
    }
}

/// The request to send next when `status` with `location` answered `saved` sent to `from`;
/// `None` when the response is not a redirect to follow (not a redirect status, no usable
/// `Location`, a scheme other than http/https, or a body that would be needed but is gone).
pub(crate) fn next(
    saved: Saved,
    from: &Url,
    status: StatusCode,
    location: Option<&http::HeaderValue>,
) -> Option<Request> {
    let method = saved.bodiless.method().clone();
    let (method, keep_body) = match status {
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND if method == Method::POST => {
            (Method::GET, false)
        }
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => (method, true),
        StatusCode::SEE_OTHER if method == Method::HEAD => (method, false),
        StatusCode::SEE_OTHER => (Method::GET, false),
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => (method, true),
        _ => return None,
    };
    let to = from.join(location?.to_str().ok()?).ok()?;
    if !matches!(to.scheme(), "http" | "https") {
        return None;
    }
    let mut req = if keep_body {
        saved.full?
    } else {
        let mut r = saved.bodiless;
        drop_payload_headers(r.headers_mut());
        r
    };
    *req.method_mut() = method;
    if !same_origin(from, &to) {
        drop_credentials(req.headers_mut());
    }
    *req.url_mut() = to;
    Some(req)
}

/// The `Location` of a response, if any.
pub(crate) fn location(headers: &HeaderMap) -> Option<&http::HeaderValue> {
    headers.get(LOCATION)
}

/// Whether `status` is one of the redirects [`next`] follows.
pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn drop_payload_headers(h: &mut HeaderMap) {
    for name in [
        CONTENT_TYPE,
        CONTENT_LENGTH,
        CONTENT_ENCODING,
        TRANSFER_ENCODING,
    ] {
        h.remove(name);
    }
}

fn drop_credentials(h: &mut HeaderMap) {
    for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, WWW_AUTHENTICATE] {
        h.remove(name);
    }
    h.remove("cookie2");
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn post(url: &str) -> Request {
        let mut r = Request::new(Method::POST, Url::parse(url).unwrap());
        *r.body_mut() = Some("payload".into());
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        r.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        r
    }

    fn follow(req: &Request, status: u16, loc: &str) -> Option<Request> {
        next(
            Saved::of(req),
            req.url(),
            StatusCode::from_u16(status).unwrap(),
            Some(&HeaderValue::from_str(loc).unwrap()),
        )
    }

    fn body(r: &Request) -> Option<&[u8]> {
        r.body().and_then(|b| b.as_bytes())
    }

    #[test]
    fn methods_and_bodies_follow_the_status() {
        let req = post("http://a.example/x");
        for (status, method, kept) in [
            (301, Method::GET, false),
            (302, Method::GET, false),
            (303, Method::GET, false),
            (307, Method::POST, true),
            (308, Method::POST, true),
        ] {
            let n = follow(&req, status, "/y").unwrap();
            assert_eq!(n.method(), method, "{status}");
            assert_eq!(n.url().as_str(), "http://a.example/y");
            assert_eq!(body(&n).is_some(), kept, "{status}");
            assert_eq!(n.headers().contains_key(CONTENT_TYPE), kept, "{status}");
            assert!(
                n.headers().contains_key(AUTHORIZATION),
                "same origin keeps it"
            );
        }
        let mut put = post("http://a.example/x");
        *put.method_mut() = Method::PUT;
        let n = follow(&put, 302, "/y").unwrap();
        assert_eq!(
            (n.method(), body(&n)),
            (&Method::PUT, Some(&b"payload"[..]))
        );
        let mut head = post("http://a.example/x");
        *head.method_mut() = Method::HEAD;
        assert_eq!(follow(&head, 303, "/y").unwrap().method(), Method::HEAD);
    }

    #[test]
    fn another_origin_loses_the_credentials() {
        let req = post("http://a.example/x");
        for loc in [
            "http://b.example/y",
            "https://a.example/y",
            "http://a.example:8080/y",
        ] {
            let n = follow(&req, 307, loc).unwrap();
            assert!(!n.headers().contains_key(AUTHORIZATION), "{loc}");
            assert!(n.headers().contains_key(CONTENT_TYPE), "{loc}");
        }
    }

    #[test]
    fn what_is_not_followed() {
        let req = post("http://a.example/x");
        assert!(follow(&req, 200, "/y").is_none());
        assert!(follow(&req, 304, "/y").is_none());
        assert!(follow(&req, 302, "ftp://a.example/y").is_none());
        assert!(follow(&req, 302, "file:///etc/passwd").is_none());
        assert!(next(Saved::of(&req), req.url(), StatusCode::FOUND, None).is_none());
        // A streamed body cannot be re-sent: 307 is returned as is, 303 still followed.
        let mut streamed = post("http://a.example/x");
        *streamed.body_mut() = Some(reqwest::Body::wrap(String::from("streamed")));
        assert!(follow(&streamed, 307, "/y").is_none());
        let n = follow(&streamed, 303, "/y").unwrap();
        assert!(n.body().is_none() && n.method() == Method::GET);
    }
}
