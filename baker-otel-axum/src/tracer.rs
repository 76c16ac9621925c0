//! Where the SERVER spans come from: the global tracer provider, or one given to the builder.

use opentelemetry::global::BoxedTracer;
use opentelemetry::InstrumentationScope;
use std::sync::OnceLock;

/// Instrumentation scope of the spans and instruments of this crate.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(crate::metrics::SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
}

/// A tracer of an explicit provider, or one taken from the global provider on first use (so a
/// layer built before `baker_otel::init()` still traces).
#[derive(Debug)]
pub(crate) enum TracerSource {
    Explicit(BoxedTracer),
    Global(OnceLock<BoxedTracer>),
}

impl TracerSource {
    #[inline]
    pub(crate) fn get(&self) -> &BoxedTracer {
        match self {
            Self::Explicit(t) => t,
            Self::Global(cell) => {
                cell.get_or_init(|| opentelemetry::global::tracer_with_scope(scope()))
            }
        }
    }
}
