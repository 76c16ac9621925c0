//! Inject / extract an OpenTelemetry [`Context`] through NATS headers with the *global* propagator.
//!
//! ## Fast path
//! The SDK's W3C propagators allocate generously (a `Vec` per split, a `String` per piece). When
//! — and only when — the installed global propagator is exactly the default
//! `TextMapCompositePropagator[TraceContextPropagator, BaggagePropagator]` (what
//! `baker_otel::init()` installs for `OTEL_PROPAGATORS` unset or `tracecontext,baggage`), these
//! functions write and parse `traceparent` / `baggage` directly (see `w3c.rs`) and produce the same
//! result as the SDK (a differential property test holds them to it). Anything unusual — a
//! non-canonical `traceparent`, percent-escapes or properties in `baggage` — is handed to the SDK
//! propagator itself. Any other installed propagator (B3, a custom one, `none`, only one of the
//! two) is always called as is.
//!
//! Detection: the global propagator is only reachable as `&dyn TextMapPropagator`. Its identity
//! is classified from its `Debug` representation (which lists the composed propagators) once per
//! installed instance and cached under the instance's address; each call also re-checks its
//! `fields()`, so a replacement with different fields is always seen. Known limitation: a
//! *different* composite with the very same three fields, installed twice in a row so that it
//! lands at the old address without a NATS call in between, would keep the fast path. The clean
//! fix is an install epoch in `baker_otel::propagation` (suggested to the core).
//!
//! The one visible difference from the SDK: the fast path omits an *empty* `tracestate` header
//! (the SDK writes `tracestate:` with no value); W3C treats both the same.
//!
//! ```
//! use baker_otel_nats::propagation::{extract, inject_context};
//! use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
//!
//! baker_otel::propagation::install(&[
//!     baker_otel::config::PropagatorKind::TraceContext,
//!     baker_otel::config::PropagatorKind::Baggage,
//! ]);
//! let sc = SpanContext::new(
//!     TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
//!     SpanId::from_hex("00f067aa0ba902b7").unwrap(),
//!     TraceFlags::SAMPLED, false, TraceState::default(),
//! );
//! let mut headers = async_nats::HeaderMap::new();
//! inject_context(&opentelemetry::Context::new().with_remote_span_context(sc), &mut headers);
//! assert_eq!(headers.get("traceparent").unwrap().as_str(),
//!            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//! let cx = extract(Some(&headers));
//! assert_eq!(cx.span().span_context().span_id().to_string(), "00f067aa0ba902b7");
//! ```

use crate::carrier::{HeaderExtractor, HeaderInjector};
use crate::w3c;
use async_nats::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::Context;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

const UNKNOWN: u8 = 0;
const DEFAULT_W3C: u8 = 1;
const OTHER: u8 = 2;

static CACHED_ADDR: AtomicUsize = AtomicUsize::new(0);
static CACHED_KIND: AtomicU8 = AtomicU8::new(UNKNOWN);

const DEFAULT_DEBUG_PREFIX: &str = "TextMapCompositePropagator { propagators: [TraceContextPropagator { _private: () }, BaggagePropagator { _private: () }], fields: ";

/// Whether `p` is exactly the default W3C trace-context + baggage composite.
fn is_default_w3c(p: &dyn TextMapPropagator) -> bool {
    let mut n = 0;
    for f in p.fields() {
        n += 1;
        if !matches!(f, "traceparent" | "tracestate" | "baggage") {
            return false;
        }
    }
    if n != 3 {
        return false;
    }
    let addr = p as *const dyn TextMapPropagator as *const () as usize;
    if CACHED_ADDR.load(Ordering::Acquire) == addr {
        match CACHED_KIND.load(Ordering::Acquire) {
            DEFAULT_W3C => return true,
            OTHER => return false,
            _ => {}
        }
    }
    let yes = format!("{p:?}").starts_with(DEFAULT_DEBUG_PREFIX);
    CACHED_KIND.store(UNKNOWN, Ordering::Release);
    CACHED_ADDR.store(addr, Ordering::Release);
    CACHED_KIND.store(if yes { DEFAULT_W3C } else { OTHER }, Ordering::Release);
    yes
}

/// Whether the fast path is active for the currently installed global propagator.
///
/// ```
/// baker_otel::propagation::install(&[baker_otel::config::PropagatorKind::TraceContext]);
/// assert!(!baker_otel_nats::propagation::fast_path_active());
/// ```
pub fn fast_path_active() -> bool {
    opentelemetry::global::get_text_map_propagator(is_default_w3c)
}

/// Injects the current context (active span, baggage) into `headers`, keeping other headers.
///
/// ```
/// let mut headers = async_nats::HeaderMap::new();
/// baker_otel_nats::propagation::inject(&mut headers); // no span: nothing written
/// ```
pub fn inject(headers: &mut HeaderMap) {
    Context::map_current(|cx| inject_context(cx, headers));
}

/// Injects `cx` into `headers` with the global propagator, keeping unrelated headers.
///
/// ```
/// let mut headers = async_nats::HeaderMap::new();
/// baker_otel_nats::propagation::inject_context(&opentelemetry::Context::new(), &mut headers);
/// assert!(headers.is_empty());
/// ```
pub fn inject_context(cx: &Context, headers: &mut HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|p| {
        if is_default_w3c(p) {
            w3c::inject(cx, headers);
        } else {
            p.inject_context(cx, &mut HeaderInjector(headers));
        }
    });
}

/// Extracts the remote context from `headers` on top of an empty context (a consumer must not
/// inherit whatever happens to be current). Garbage or no headers yield a context without a
/// span: the consumer span then starts a new trace.
///
/// ```
/// let cx = baker_otel_nats::propagation::extract(None);
/// use opentelemetry::trace::TraceContextExt;
/// assert!(!cx.has_active_span());
/// ```
pub fn extract(headers: Option<&HeaderMap>) -> Context {
    extract_with_context(&Context::new(), headers)
}

/// Extracts the remote context from `headers` on top of `cx`.
///
/// ```
/// let cx = baker_otel_nats::propagation::extract_with_context(&opentelemetry::Context::new(), None);
/// ```
pub fn extract_with_context(cx: &Context, headers: Option<&HeaderMap>) -> Context {
    let Some(headers) = headers.filter(|h| !h.is_empty()) else {
        return cx.clone();
    };
    opentelemetry::global::get_text_map_propagator(|p| {
        let carrier = HeaderExtractor(headers);
        if is_default_w3c(p) {
            w3c::extract(cx, carrier)
        } else {
            p.extract_with_context(cx, &carrier)
        }
    })
}
