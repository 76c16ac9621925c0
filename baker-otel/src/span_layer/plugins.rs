//! The service's own span plug-ins: a sampler and an id generator
//! (`TelemetryBuilder::with_sampler` and `with_id_generator`), shared by every span of the
//! pipeline.

use opentelemetry::trace::{Link, SpanId, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, SamplingResult, ShouldSample};
use std::sync::Arc;

/// The service's span plug-ins as the builder collects them.
#[derive(Default)]
pub(crate) struct SpanPlugins {
    pub(crate) sampler: Option<SharedSampler>,
    pub(crate) ids: Option<SharedIds>,
}

/// The service's sampler, one instance shared by the span layer and the tracer provider (a
/// clone shares it: state the sampler keeps is seen by every span).
#[derive(Clone, Debug)]
pub(crate) struct SharedSampler(pub(crate) Arc<dyn ShouldSample>);

impl ShouldSample for SharedSampler {
    #[inline]
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        self.0
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

/// The service's id generator, one instance shared by the span layer and the tracer provider.
#[derive(Clone, Debug)]
pub(crate) struct SharedIds(pub(crate) Arc<dyn IdGenerator>);

impl IdGenerator for SharedIds {
    #[inline]
    fn new_trace_id(&self) -> TraceId {
        self.0.new_trace_id()
    }

    #[inline]
    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}
