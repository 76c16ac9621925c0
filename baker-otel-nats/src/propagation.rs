//! Inject / extract an OpenTelemetry [`Context`] through NATS headers with the hub's
//! [`Propagation`] (W3C trace context + baggage, as configured by `OTEL_PROPAGATORS`).
//!
//! The codec is the core's ([`baker_otel::propagation`]); this module only maps its fields to
//! NATS header names (no allocation for the W3C names) and reads the three fields in one pass
//! over the header map ([`HeaderExtractor`]'s rules: invalid, oversize and repeated values are
//! ignored; one case-insensitive match is accepted when the exact name is missing). An extracted
//! `tracestate` is capped at [`MAX_TRACESTATE_LEN`](baker_otel::propagation::MAX_TRACESTATE_LEN)
//! bytes by whole list-members, as on every extraction of the core.
//!
//! ```
//! use baker_otel_nats::propagation::{extract, inject_context};
//! use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
//!
//! let capture = baker_otel::testing::Capture::new();
//! let p = capture.telemetry().propagation();
//! let sc = SpanContext::new(
//!     TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
//!     SpanId::from_hex("00f067aa0ba902b7").unwrap(),
//!     TraceFlags::SAMPLED, false, TraceState::default(),
//! );
//! let mut headers = async_nats::HeaderMap::new();
//! inject_context(p, &opentelemetry::Context::new().with_remote_span_context(sc), &mut headers);
//! assert_eq!(headers.get("traceparent").unwrap().as_str(),
//!            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//! let cx = extract(p, Some(&headers));
//! assert_eq!(cx.span().span_context().span_id().to_string(), "00f067aa0ba902b7");
//! ```

use crate::carrier::{
    checked_header_value, header_value, HeaderExtractor, HeaderInjector, BAGGAGE, TRACEPARENT,
    TRACESTATE,
};
use async_nats::HeaderMap;
use baker_otel::propagation::{Field, Propagation};
use opentelemetry::Context;

/// Injects `cx` into `headers`, keeping unrelated headers (values with CR/LF or over
/// [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN) are skipped, never a panic). No outbound policy:
/// traced publishes use [`inject_allowed`] with the telemetry's.
///
/// ```
/// let capture = baker_otel::testing::Capture::new();
/// let mut headers = async_nats::HeaderMap::new();
/// baker_otel_nats::propagation::inject_context(capture.telemetry().propagation(), &opentelemetry::Context::new(), &mut headers);
/// assert!(headers.is_empty());
/// ```
pub fn inject_context(p: &Propagation, cx: &Context, headers: &mut HeaderMap) {
    p.inject_with(cx, |field, value| {
        let (name, value) = match field {
            // 55 bytes of hex digits and `-`: nothing to check.
            Field::TraceParent => (TRACEPARENT, checked_header_value(value)),
            Field::TraceState => (TRACESTATE, header_value(value)),
            Field::Baggage => (BAGGAGE, header_value(value)),
            _ => return,
        };
        if let Some(v) = value {
            headers.insert(name, v);
        }
    });
}

/// Injects into `headers` the fields of `cx` for which `allowed` is true, and **removes** every
/// field for which it is false — in any spelling of its name, also when the caller put it there
/// (e.g. a `baggage` header forwarded from a consumed message). What traced publishes use, with
/// the [`NatsTelemetry`](crate::NatsTelemetry)'s outbound policy for the subject.
///
/// ```
/// use baker_otel::propagation::Field;
/// use opentelemetry::baggage::BaggageExt;
/// let capture = baker_otel::testing::Capture::new();
/// let cx = opentelemetry::Context::new().with_baggage([opentelemetry::KeyValue::new("k", "v")]);
/// let mut headers = async_nats::HeaderMap::new();
/// headers.insert("baggage", "forwarded=1");
/// let p = capture.telemetry().propagation();
/// baker_otel_nats::propagation::inject_allowed(p, &cx, &|f| f != Field::Baggage, &mut headers);
/// assert!(headers.is_empty());
/// ```
pub fn inject_allowed(
    p: &Propagation,
    cx: &Context,
    allowed: &dyn Fn(Field) -> bool,
    headers: &mut HeaderMap,
) {
    p.inject_allowed(cx, allowed, &mut HeaderInjector(headers));
}

/// Extracts the remote context from `headers` on top of an empty context (a consumer must not
/// inherit whatever happens to be current). Garbage or no headers yield a context without a
/// span: the consumer span then starts a new trace.
///
/// ```
/// let capture = baker_otel::testing::Capture::new();
/// let cx = baker_otel_nats::propagation::extract(capture.telemetry().propagation(), None);
/// use opentelemetry::trace::TraceContextExt;
/// assert!(!cx.has_active_span());
/// ```
pub fn extract(p: &Propagation, headers: Option<&HeaderMap>) -> Context {
    extract_with_context(p, &Context::new(), headers)
}

/// Extracts the remote context from `headers` on top of `cx`.
///
/// ```
/// let capture = baker_otel::testing::Capture::new();
/// let p = capture.telemetry().propagation();
/// let _cx = baker_otel_nats::propagation::extract_with_context(p, &opentelemetry::Context::new(), None);
/// ```
pub fn extract_with_context(p: &Propagation, cx: &Context, headers: Option<&HeaderMap>) -> Context {
    match headers.filter(|h| !h.is_empty()) {
        None => cx.clone(),
        Some(h) => p.extract_values(cx, &HeaderExtractor(h).w3c_values()),
    }
}
