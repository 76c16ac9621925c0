//! Where the SERVER and CLIENT spans come from: the hub's tracer provider.

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::InstrumentationScope;

/// Instrumentation scope of the spans and instruments of this crate.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(crate::metrics::SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
}

/// A tracer of the hub's provider, or a no-op tracer when the SDK is disabled.
pub(crate) fn tracer(hub: &baker_otel::TelemetryHandle) -> BoxedTracer {
    match hub.tracer_provider() {
        Some(tp) => BoxedTracer::new(Box::new(tp.tracer_with_scope(scope()))),
        None => BoxedTracer::new(Box::new(
            opentelemetry::trace::noop::NoopTracerProvider::new().tracer_with_scope(scope()),
        )),
    }
}
