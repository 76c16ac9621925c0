//! [`http::HeaderMap`] carriers for the global propagator and trace-id formatting.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::SpanContext;

/// Read-only view of request headers for [`baker_otel::propagation::extract`].
///
/// Values that are not visible ASCII are ignored (treated as absent), so hostile bytes can
/// never reach the propagator.
///
/// ```
/// use baker_otel_axum::HeaderExtractor;
/// use opentelemetry::propagation::Extractor;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", http::HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
/// assert!(HeaderExtractor(&headers).get("traceparent").is_some());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let v: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!v.is_empty()).then_some(v)
    }
}

/// Mutable view of request headers for [`baker_otel::propagation::inject_context`].
///
/// Keys or values that are not valid HTTP header names/values are skipped, never a panic.
///
/// ```
/// use baker_otel_axum::HeaderInjector;
/// use opentelemetry::propagation::Injector;
/// let mut headers = http::HeaderMap::new();
/// HeaderInjector(&mut headers).set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
/// HeaderInjector(&mut headers).set("bad name", "x".into()); // ignored
/// assert_eq!(headers.len(), 1);
/// ```
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::try_from(value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Policy-aware injection ([`baker_otel::propagation::Propagation::inject_for`]): writes the
/// allowed fields and removes the refused ones (HTTP header names are case-insensitive: one
/// removal takes every spelling and every repeated value).
///
/// ```
/// use baker_otel::propagation::{Field, OutboundCarrier};
/// let mut headers = http::HeaderMap::new();
/// headers.append("Baggage", http::HeaderValue::from_static("forwarded=1"));
/// headers.append("baggage", http::HeaderValue::from_static("forwarded=2"));
/// baker_otel_axum::HeaderInjector(&mut headers).remove_field(Field::Baggage);
/// assert!(headers.is_empty());
/// ```
impl baker_otel::propagation::OutboundCarrier for HeaderInjector<'_> {
    fn set_field(&mut self, field: baker_otel::propagation::Field, value: String) {
        if let Ok(v) = HeaderValue::try_from(value) {
            self.0.insert(HeaderName::from_static(field.name()), v);
        }
    }

    fn remove_field(&mut self, field: baker_otel::propagation::Field) {
        self.0.remove(field.name());
    }
}

/// `X-Trace-Id` value: 32 lowercase hex digits.
pub(crate) fn trace_id_value(sc: &SpanContext) -> Option<HeaderValue> {
    header_value(&baker_otel::propagation::hex::trace_id(sc))
}

/// W3C `traceresponse` value: `00-{trace-id}-{span-id}-{flags}`.
pub(crate) fn traceresponse_value(sc: &SpanContext) -> Option<HeaderValue> {
    header_value(&baker_otel::propagation::hex::traceparent(sc))
}

/// `text` as a header value; `None` if `text` is not a valid value.
fn header_value(text: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_bytes(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn formats_like_display() {
        let tid = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap();
        let sid = SpanId::from_hex("b7ad6b7169203331").unwrap();
        let sc = SpanContext::new(tid, sid, TraceFlags::SAMPLED, true, TraceState::default());
        assert_eq!(trace_id_value(&sc).unwrap(), tid.to_string().as_str());
        assert_eq!(
            traceresponse_value(&sc).unwrap(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
    }

    /// Any length is taken as it is; an invalid value gives `None`, never a panic.
    #[test]
    fn header_values_of_any_length_and_invalid_ones() {
        let long = "a".repeat(8192);
        assert_eq!(
            header_value(long.as_bytes()).unwrap().as_bytes(),
            long.as_bytes()
        );
        assert!(header_value(b"bad\nvalue").is_none());
    }
}
