//! Context propagation helpers around the globally installed text-map propagator.
//!
//! `init()` installs W3C trace-context + baggage (or what `OTEL_PROPAGATORS` names). The helpers
//! here inject the *current* context (span + Baker ids) into any carrier and extract a remote
//! one, never panicking on malformed input.
//!
//! ```
//! use std::collections::HashMap;
//! baker_otel::propagation::install(&[baker_otel::config::PropagatorKind::TraceContext]);
//! let mut carrier = HashMap::new();
//! carrier.insert("traceparent".to_string(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string());
//! let cx = baker_otel::propagation::extract(&carrier);
//! use opentelemetry::trace::TraceContextExt;
//! assert_eq!(cx.span().span_context().trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
//! ```

use crate::config::PropagatorKind;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// Installs the global propagator for the given kinds (empty = propagate nothing).
pub fn install(kinds: &[PropagatorKind]) {
    let mut ps: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    for k in kinds {
        match k {
            PropagatorKind::TraceContext => ps.push(Box::new(TraceContextPropagator::new())),
            PropagatorKind::Baggage => ps.push(Box::new(BaggagePropagator::new())),
        }
    }
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(ps));
}

/// Injects the current context (active span, baggage with Baker ids) into `carrier`.
pub fn inject(carrier: &mut dyn Injector) {
    inject_context(&Context::current(), carrier);
}

/// Injects `cx` into `carrier` with the global propagator.
pub fn inject_context(cx: &Context, carrier: &mut dyn Injector) {
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(cx, carrier));
}

/// Extracts a remote context from `carrier`; garbage yields an empty context (a new trace).
pub fn extract(carrier: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier))
}

/// Extracts on top of `cx` (keeps its values, adds the remote span and baggage).
pub fn extract_with_context(cx: &Context, carrier: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract_with_context(cx, carrier))
}
