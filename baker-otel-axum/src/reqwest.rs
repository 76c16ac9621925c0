//! reqwest helper (feature `reqwest`).

use crate::client::{client_span, inject, record_error, record_status};
use crate::OtelClientLayer;
use tracing::Instrument;

impl OtelClientLayer {
    /// Sends a reqwest request inside a CLIENT span and with the current trace context injected
    /// as the layer's [`OutboundPolicy`](baker_otel::propagation::OutboundPolicy) allows for
    /// the URL's host (same span, attributes and policy as the tower layer). Feature `reqwest`.
    ///
    /// ```no_run
    /// # async fn demo(telemetry: &baker_otel::Telemetry) -> Result<(), reqwest::Error> {
    /// let traced = baker_otel_axum::OtelClientLayer::new(telemetry);
    /// let client = reqwest::Client::new();
    /// let res = traced.send(client.get("http://extension:8080/v1/tool?key=secret")).await?;
    /// # let _ = res; Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
    pub async fn send(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        send_traced(self, builder).await
    }
}

async fn send_traced(
    layer: &OtelClientLayer,
    builder: reqwest::RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    let (client, req) = builder.build_split();
    let mut req = req?;
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
    );
    let host = req.url().host_str().map(str::to_owned);
    let policy = &layer.policy;
    inject(
        &layer.propagation,
        &|f| policy.allows(f, host.as_deref()),
        &span,
        req.headers_mut(),
    );
    let result = client.execute(req).instrument(span.clone()).await;
    match &result {
        Ok(res) => record_status(&span, res.status()),
        Err(e) if e.is_timeout() => record_error(&span, "timeout"),
        Err(_) => record_error(&span, "reqwest::Error"),
    }
    result
}
