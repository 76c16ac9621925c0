//! reqwest (feature `reqwest`): [`OtelClientLayer::send`] and [`OtelReqwestClient`].
//!
//! A reqwest client follows redirects by itself and re-sends the request's headers to whatever
//! host a `Location` names (it strips only credentials on a hop to another host), so an
//! outbound policy applied to the first host alone is no policy at all. Two ways out:
//!
//! * [`OtelReqwestClient`] owns a client that follows no redirect by itself; its
//!   [`send`](OtelReqwestClient::send) follows them, evaluating the policy for every hop;
//! * [`OtelClientLayer::send`] takes any client, so it sends only what the policy sends to
//!   every host.

use crate::client::{client_span, inject, record_error, record_status};
use crate::redirect::{self, Saved};
use crate::OtelClientLayer;
use baker_otel::propagation::Field;
use tracing::Instrument;

/// Redirects [`OtelReqwestClient`] follows in a chain by default (reqwest's own default).
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

impl OtelClientLayer {
    /// Sends a reqwest request (any client) inside a CLIENT span, with the current trace
    /// context injected — **only the fields the layer's
    /// [`OutboundPolicy`](baker_otel::propagation::OutboundPolicy) sends to every host**
    /// ([`allows_everywhere`](baker_otel::propagation::OutboundPolicy::allows_everywhere)):
    /// the client may follow a redirect to any host with the same headers, and `send` cannot
    /// stop it. With the default policy that is trace context and **no baggage**; a field the
    /// policy refuses somewhere is also removed if the builder set it. For baggage to the hosts
    /// the policy allows, use [`reqwest_client`](Self::reqwest_client), which applies the
    /// policy to every hop. Feature `reqwest`.
    ///
    /// ```no_run
    /// # async fn demo(telemetry: &baker_otel::Telemetry) -> Result<(), reqwest::Error> {
    /// let traced = baker_otel_axum::OtelClientLayer::new(telemetry);
    /// let client = reqwest::Client::new();
    /// let res = traced.send(client.get("https://api.openai.com/v1/models")).await?;
    /// # let _ = res; Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
    pub async fn send(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let (client, req) = builder.build_split();
        let policy = self.policy.clone();
        hop(self, &client, req?, None, &|f| policy.allows_everywhere(f)).await
    }

    /// A reqwest client built from `builder` (timeouts, TLS, proxies … as configured there)
    /// whose requests are traced and whose redirects are followed by
    /// [`OtelReqwestClient::send`], **with the outbound policy evaluated for every hop**. The
    /// builder's redirect policy is replaced: the client itself follows none. Feature `reqwest`.
    ///
    /// ```
    /// use baker_otel::propagation::{Destinations, OutboundPolicy};
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let http = baker_otel_axum::OtelClientLayer::new(&telemetry)
    ///     .outbound_policy(OutboundPolicy::default().baggage_to(Destinations::hosts(["tools.acme.dev"])))
    ///     .reqwest_client(reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)))
    ///     .unwrap();
    /// # async fn demo(http: baker_otel_axum::OtelReqwestClient) -> Result<(), reqwest::Error> {
    /// // tools.acme.dev gets baggage; if it redirects to another host, that hop does not.
    /// let res = http.send(http.get("https://tools.acme.dev/v1/run")).await?;
    /// # let _ = res; Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
    pub fn reqwest_client(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> reqwest::Result<OtelReqwestClient> {
        Ok(OtelReqwestClient {
            client: builder
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            layer: self.clone(),
            max_redirects: DEFAULT_MAX_REDIRECTS,
        })
    }
}

/// A traced reqwest client that follows redirects itself, applying the layer's
/// [`OutboundPolicy`](baker_otel::propagation::OutboundPolicy) to **every hop**: each hop is
/// its own CLIENT span (`http.request.resend_count` = 1, 2, … on the hops after the first),
/// gets the fields the policy allows for *its* host and loses those it refuses — also
/// `baggage`/`traceparent`/`tracestate` headers the caller set. Built by
/// [`OtelClientLayer::reqwest_client`]. Feature `reqwest`.
///
/// Redirects: at most [`max_redirects`](Self::max_redirects) (default
/// [`DEFAULT_MAX_REDIRECTS`]); 301/302 turn POST into GET, 303 turns any method but HEAD into
/// GET (the body dropped), 307/308 keep method and body (a streamed body cannot be re-sent:
/// the 307/308 response is returned). A hop to another scheme, host or port loses
/// `Authorization`, `Cookie` and `Proxy-Authorization`; no `Referer` is added. The last
/// response is returned as is — a 3xx when the limit is reached or the `Location` is missing,
/// unparsable or not http(s) (where reqwest would return an error). Each hop gets the
/// request's and the client's timeout anew.
#[derive(Debug, Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub struct OtelReqwestClient {
    client: reqwest::Client,
    layer: OtelClientLayer,
    max_redirects: usize,
}

impl OtelReqwestClient {
    /// Follows at most `n` redirects in a chain (0: none; the 3xx is returned).
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// let http = baker_otel_axum::OtelClientLayer::new(capture.telemetry())
    ///     .reqwest_client(reqwest::Client::builder())
    ///     .unwrap()
    ///     .max_redirects(3);
    /// # let _ = http;
    /// ```
    #[must_use]
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// The underlying client: untraced, and it follows no redirect.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// let http = baker_otel_axum::OtelClientLayer::new(capture.telemetry())
    ///     .reqwest_client(reqwest::Client::builder())
    ///     .unwrap();
    /// let _raw: &reqwest::Client = http.inner();
    /// ```
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request builder for `method` and `url` (send it with [`send`](Self::send)).
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let http = baker_otel_axum::OtelClientLayer::new(capture.telemetry()).reqwest_client(reqwest::Client::builder()).unwrap();
    /// let _b = http.request(reqwest::Method::PUT, "http://extension/v1/notes/7");
    /// ```
    pub fn request<U: reqwest::IntoUrl>(
        &self,
        method: reqwest::Method,
        url: U,
    ) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// A GET request builder.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let http = baker_otel_axum::OtelClientLayer::new(capture.telemetry()).reqwest_client(reqwest::Client::builder()).unwrap();
    /// let _b = http.get("http://extension/v1/tool");
    /// ```
    pub fn get<U: reqwest::IntoUrl>(&self, url: U) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    /// A POST request builder.
    ///
    /// ```
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let http = baker_otel_axum::OtelClientLayer::new(capture.telemetry()).reqwest_client(reqwest::Client::builder()).unwrap();
    /// let _b = http.post("http://extension/v1/tool").body("{}");
    /// ```
    pub fn post<U: reqwest::IntoUrl>(&self, url: U) -> reqwest::RequestBuilder {
        self.client.post(url)
    }

    /// Builds `builder`'s request and [`execute`](Self::execute)s it **with this client** (the
    /// builder's own client is not used, so no other client can follow a redirect).
    ///
    /// ```no_run
    /// # async fn demo(http: baker_otel_axum::OtelReqwestClient) -> Result<(), reqwest::Error> {
    /// let res = http.send(http.post("http://extension:8080/v1/tool").body("{}")).await?;
    /// # let _ = res; Ok(()) }
    /// ```
    pub async fn send(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let (_, req) = builder.build_split();
        self.execute(req?).await
    }

    /// Sends `req`, following redirects hop by hop under the outbound policy.
    ///
    /// ```no_run
    /// # async fn demo(http: baker_otel_axum::OtelReqwestClient) -> Result<(), reqwest::Error> {
    /// let req = http.get("http://extension:8080/v1/tool").build()?;
    /// let res = http.execute(req).await?;
    /// # let _ = res; Ok(()) }
    /// ```
    pub async fn execute(&self, mut req: reqwest::Request) -> reqwest::Result<reqwest::Response> {
        let policy = self.layer.policy.clone();
        let mut resend = 0;
        loop {
            let saved = (resend < self.max_redirects).then(|| Saved::of(&req));
            let host = req.url().host_str().map(str::to_owned);
            let allowed = |f: Field| policy.allows(f, host.as_deref());
            let attempt = u32::try_from(resend).ok().filter(|n| *n > 0);
            let res = hop(&self.layer, &self.client, req, attempt, &allowed).await?;
            let Some(saved) = saved.filter(|_| redirect::is_redirect(res.status())) else {
                return Ok(res);
            };
            match redirect::next(
                saved,
                res.url(),
                res.status(),
                redirect::location(res.headers()),
            ) {
                Some(next) => req = next,
                None => return Ok(res),
            }
            resend += 1;
        }
    }
}

/// One request on the wire: its CLIENT span, the fields `allowed` accepts injected (the others
/// removed), the status or error recorded.
async fn hop(
    layer: &OtelClientLayer,
    client: &reqwest::Client,
    mut req: reqwest::Request,
    resend: Option<u32>,
    allowed: &(dyn Fn(Field) -> bool + Sync),
) -> reqwest::Result<reqwest::Response> {
    let url = req.url();
    let full = format!(
        "{}://{}{}",
        url.scheme(),
        url.authority().rsplit('@').next().unwrap_or_default(),
        url.path()
    );
    let span = client_span(
        req.method(),
        url.host_str(),
        url.port_or_known_default(),
        Some(&full),
        resend,
    );
    inject(&layer.propagation, allowed, &span, req.headers_mut());
    let result = client.execute(req).instrument(span.clone()).await;
    match &result {
        Ok(res) => record_status(&span, res.status()),
        Err(e) if e.is_timeout() => record_error(&span, "timeout"),
        Err(_) => record_error(&span, "reqwest::Error"),
    }
    result
}
