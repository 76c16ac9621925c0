//! Where the SERVER spans come from: the hub's span starter, under this crate's scope.

use opentelemetry::InstrumentationScope;

/// Instrumentation scope of the spans and instruments of this crate.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(crate::metrics::SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
}

/// Starts the server spans straight into the hub's export queue (starts nothing when the SDK
/// is disabled).
pub(crate) fn starter(hub: &baker_otel::TelemetryHandle) -> baker_otel::SpanStarter {
    hub.span_starter(scope())
}
