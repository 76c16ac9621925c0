//! What the layer hands to every service it wraps: the settings shared by all requests
//! ([`Shared`]) and the view of a request that the public-endpoint predicate sees ([`RequestHead`]).

use crate::first_seen::{FirstAuthority, FirstSeen};
use crate::metrics::ServerMetrics;
use crate::route::RouteRegistry;
use baker_otel::propagation::Propagation;
use http::HeaderName;
use std::borrow::Cow;
use std::sync::Arc;

/// W3C Trace Context Level 2 response header.
pub(crate) const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) trace_id_header: Option<HeaderName>,
    pub(crate) traceresponse: bool,
    pub(crate) excluded: Box<[Cow<'static, str>]>,
    pub(crate) metrics: Option<ServerMetrics>,
    pub(crate) spans: baker_otel::SpanStarter,
    pub(crate) propagation: Propagation,
    /// `server.address` and `user_agent.original` are usually the same on every request.
    pub(crate) host: FirstAuthority,
    pub(crate) user_agent: FirstSeen,
    pub(crate) routes: RouteRegistry,
    /// Header names of the propagation fields (extraction is skipped when none is present).
    pub(crate) propagation_fields: Box<[HeaderName]>,
    /// Which requests come from untrusted clients.
    pub(crate) public: Public,
    /// Client baggage keys kept on public requests.
    pub(crate) baggage_allow: Box<[Cow<'static, str>]>,
}

/// Which requests are public (their inbound context untrusted).
#[derive(Clone, Default)]
pub(crate) enum Public {
    #[default]
    None,
    All,
    Fn(Arc<dyn Fn(&RequestHead<'_>) -> bool + Send + Sync>),
}

impl std::fmt::Debug for Public {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Public::None => "None",
            Public::All => "All",
            Public::Fn(_) => "Fn",
        })
    }
}

/// What a [`public_endpoint_fn`](crate::OtelLayerBuilder::public_endpoint_fn) predicate sees of a
/// request: its method, URI and headers (the body is not read).
///
/// ```
/// let req = http::Request::get("/v1/chat").body(()).unwrap();
/// let head = baker_otel_axum::RequestHead::new(req.method(), req.uri(), req.headers());
/// assert_eq!(head.uri().path(), "/v1/chat");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    method: &'a http::Method,
    uri: &'a http::Uri,
    headers: &'a http::HeaderMap,
    extensions: Option<&'a http::Extensions>,
}

impl<'a> RequestHead<'a> {
    /// A view of a request's head.
    ///
    /// ```
    /// let req = http::Request::post("/x").body(()).unwrap();
    /// let head = baker_otel_axum::RequestHead::new(req.method(), req.uri(), req.headers());
    /// assert_eq!(head.method(), http::Method::POST);
    /// ```
    pub fn new(method: &'a http::Method, uri: &'a http::Uri, headers: &'a http::HeaderMap) -> Self {
        Self {
            method,
            uri,
            headers,
            extensions: None,
        }
    }

    /// The same view with the request's extensions: what the server (not the client) attached
    /// to the request — the listener it came in on, a verified client certificate. The traced
    /// services pass them.
    ///
    /// ```
    /// #[derive(Clone)]
    /// struct InternalListener;
    /// let mut req = http::Request::get("/x").body(()).unwrap();
    /// req.extensions_mut().insert(InternalListener);
    /// let head = baker_otel_axum::RequestHead::new(req.method(), req.uri(), req.headers())
    ///     .with_extensions(req.extensions());
    /// assert!(head.extensions().is_some_and(|e| e.get::<InternalListener>().is_some()));
    /// ```
    #[must_use]
    pub fn with_extensions(mut self, extensions: &'a http::Extensions) -> Self {
        self.extensions = Some(extensions);
        self
    }

    /// The request's extensions, when the view has them (see
    /// [`with_extensions`](Self::with_extensions)).
    pub fn extensions(&self) -> Option<&'a http::Extensions> {
        self.extensions
    }
    /// The request method.
    ///
    /// ```
    /// let req = http::Request::get("/x").body(()).unwrap();
    /// assert_eq!(baker_otel_axum::RequestHead::new(req.method(), req.uri(), req.headers()).method(), http::Method::GET);
    /// ```
    pub fn method(&self) -> &'a http::Method {
        self.method
    }
    /// The request URI (as received: usually path and query).
    ///
    /// ```
    /// let req = http::Request::get("/x?a=1").body(()).unwrap();
    /// assert_eq!(baker_otel_axum::RequestHead::new(req.method(), req.uri(), req.headers()).uri().query(), Some("a=1"));
    /// ```
    pub fn uri(&self) -> &'a http::Uri {
        self.uri
    }
    /// The request headers.
    ///
    /// ```
    /// let req = http::Request::get("/x").header("x-internal", "1").body(()).unwrap();
    /// assert!(baker_otel_axum::RequestHead::new(req.method(), req.uri(), req.headers()).headers().contains_key("x-internal"));
    /// ```
    pub fn headers(&self) -> &'a http::HeaderMap {
        self.headers
    }
}

impl Shared {
    #[inline]
    pub(crate) fn is_excluded(&self, path: &str) -> bool {
        self.excluded.iter().any(|p| p.as_ref() == path)
    }

    #[inline]
    pub(crate) fn is_public(&self, head: &RequestHead<'_>) -> bool {
        match &self.public {
            Public::None => false,
            Public::All => true,
            Public::Fn(f) => f(head),
        }
    }
}
