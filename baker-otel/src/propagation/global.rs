//! OpenTelemetry's *global* text-map propagator, as [`init`](crate::init) installs it.
//!
//! Third-party code injects through `opentelemetry::global::get_text_map_propagator`
//! (reqwest-tracing, tonic interceptors, hand-written clients) without telling the propagator
//! where the request goes, so no [`OutboundPolicy`](super::OutboundPolicy) can apply there. The
//! global propagator therefore **never injects baggage** — which carries the Baker ids and,
//! behind a public endpoint, what a client sent — and injects trace context as configured.
//! It still **extracts** both, for inbound paths that read headers through the global
//! propagator. Baggage goes out only through baker-otel's own clients
//! (`OtelClientLayer`, NATS), which know the destination and apply the policy.

use super::{w3c, Field, Propagation, PropagatorKind};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;

/// The global propagator: extracts trace context and baggage as configured, injects trace
/// context only (never baggage: a global injection knows nothing of the destination).
///
/// ```
/// use baker_otel::propagation::{GlobalPropagator, Propagation, PropagatorKind};
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use std::collections::HashMap;
///
/// let g = GlobalPropagator::new(Propagation::new(&[PropagatorKind::TraceContext, PropagatorKind::Baggage]));
/// let cx = opentelemetry::Context::new().with_baggage([opentelemetry::KeyValue::new("k", "v")]);
/// let mut out: HashMap<String, String> = HashMap::new();
/// g.inject_context(&cx, &mut out);
/// assert!(!out.contains_key("baggage"));
///
/// let inbound = HashMap::from([("baggage".to_string(), "k=v".to_string())]);
/// assert_eq!(g.extract(&inbound).baggage().len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct GlobalPropagator {
    propagation: Propagation,
    fields: Vec<String>,
}

impl GlobalPropagator {
    /// The global propagator for `propagation`'s kinds.
    ///
    /// ```
    /// use baker_otel::propagation::{GlobalPropagator, Propagation, PropagatorKind};
    /// use opentelemetry::propagation::TextMapPropagator;
    /// let g = GlobalPropagator::new(Propagation::new(&[PropagatorKind::TraceContext]));
    /// assert_eq!(g.fields().count(), 2);
    /// ```
    pub fn new(propagation: Propagation) -> Self {
        let fields = propagation.fields().map(str::to_owned).collect();
        Self {
            propagation,
            fields,
        }
    }
}

impl TextMapPropagator for GlobalPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if self.propagation.propagates(Field::TraceParent) {
            w3c::inject_trace_context(cx, &mut |f, v| injector.set(f.name(), v));
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.propagation.extract_with_context(cx, extractor)
    }

    /// Every field it reads (baggage included), so that a carrier can be cleared of them.
    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Installs the given kinds as OpenTelemetry's *global* text-map propagator (for code that uses
/// `opentelemetry::global`; a [`GlobalPropagator`]: it never injects baggage) and returns the
/// handle. [`init`](crate::init) installs the hub's propagation the same way.
///
/// ```
/// let p = baker_otel::propagation::install(&[baker_otel::config::PropagatorKind::TraceContext]);
/// assert_eq!(p.kinds().len(), 1);
/// ```
pub fn install(kinds: &[PropagatorKind]) -> Propagation {
    let p = Propagation::new(kinds);
    opentelemetry::global::set_text_map_propagator(GlobalPropagator::new(p.clone()));
    p
}

/// Injects the current context into `carrier` with the *global* propagator (trace context,
/// never baggage — see [`GlobalPropagator`]).
///
/// ```
/// let mut carrier = std::collections::HashMap::new();
/// baker_otel::propagation::inject(&mut carrier);
/// ```
pub fn inject(carrier: &mut dyn Injector) {
    inject_context(&Context::current(), carrier);
}

/// Injects `cx` into `carrier` with the *global* propagator (trace context, never baggage —
/// see [`GlobalPropagator`]).
///
/// ```
/// let mut carrier = std::collections::HashMap::new();
/// baker_otel::propagation::inject_context(&opentelemetry::Context::new(), &mut carrier);
/// ```
pub fn inject_context(cx: &Context, carrier: &mut dyn Injector) {
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(cx, carrier));
}

/// Extracts a remote context with the *global* propagator; garbage yields an empty context.
///
/// ```
/// let carrier = std::collections::HashMap::<String, String>::new();
/// let _cx = baker_otel::propagation::extract(&carrier);
/// ```
pub fn extract(carrier: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier))
}

/// Extracts on top of `cx` with the *global* propagator.
///
/// ```
/// let carrier = std::collections::HashMap::<String, String>::new();
/// let _cx = baker_otel::propagation::extract_with_context(&opentelemetry::Context::new(), &carrier);
/// ```
pub fn extract_with_context(cx: &Context, carrier: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract_with_context(cx, carrier))
}
