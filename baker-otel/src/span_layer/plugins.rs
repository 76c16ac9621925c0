//! The service's own span plug-ins: a sampler, an id generator, span processors and start hooks
//! (`TelemetryBuilder::with_sampler` and its siblings), shared by every span of the pipeline.

use super::record::SpanRecord;
use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    IdGenerator, SamplingResult, ShouldSample, SpanData, SpanProcessor,
};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Adds to a span when it starts, for every span of the pipeline: `tracing` spans (baker-otel's
/// layer and tracing-opentelemetry's, see [`CompatSpans`](crate::CompatSpans)), spans of a
/// [`SpanStarter`](crate::SpanStarter) and spans of the OpenTelemetry tracer provider.
///
/// The start-time half of an SDK [`SpanProcessor`] (`on_start`), for the spans that have no SDK
/// `Span` to hand to one: `SpanProcessor::on_start` takes `opentelemetry_sdk::trace::Span`, which
/// only the SDK's own tracer can create. Install one with
/// [`TelemetryBuilder::with_span_start_hook`](crate::TelemetryBuilder::with_span_start_hook);
/// any `Fn(&mut StartingSpan<'_>, &Context)` closure is one.
///
/// It runs once per recording span (sampled, or recorded only), with the span's final parent:
/// for a `tracing` span, when it is first entered or its context is first taken, or when it
/// closes if neither happened — so after
/// [`set_parent`](crate::OpenTelemetrySpanExt::set_parent), with the remote caller's baggage;
/// for the other spans, when they start. The Baker ids of the parent's baggage
/// (`gen_ai.conversation.id`, `baker.job.id`) are already on the span.
///
/// ```
/// use baker_otel::StartingSpan;
/// use opentelemetry::baggage::BaggageExt as _;
/// use opentelemetry::{Context, KeyValue};
///
/// let capture = baker_otel::testing::Capture::with_builder(
///     baker_otel::Telemetry::builder().with_span_start_hook(
///         |span: &mut StartingSpan<'_>, parent: &Context| {
///             if let Some(tenant) = parent.baggage().get("tenant.id") {
///                 span.set_attribute(KeyValue::new("tenant.id", tenant.clone()));
///             }
///         },
///     ),
/// );
/// let cx = Context::new().with_baggage([KeyValue::new("tenant.id", "acme")]);
/// capture.in_scope(|| {
///     let _attached = cx.attach();
///     tracing::info_span!("work").in_scope(|| {});
/// });
/// let span = capture.span("work");
/// assert_eq!(baker_otel::testing::Capture::attr(&span, "tenant.id"), Some("acme".into()));
/// ```
pub trait SpanStartHook: Send + Sync + 'static {
    /// Called when `span` starts under `parent` (see the trait docs for when exactly).
    fn on_start(&self, span: &mut StartingSpan<'_>, parent: &Context);
}

impl<F> SpanStartHook for F
where
    F: Fn(&mut StartingSpan<'_>, &Context) + Send + Sync + 'static,
{
    fn on_start(&self, span: &mut StartingSpan<'_>, parent: &Context) {
        self(span, parent)
    }
}

/// A span as a [`SpanStartHook`] sees it: its ids, and attributes to add (within the span
/// attribute limit, like `Span::set_attribute`).
pub struct StartingSpan<'a> {
    target: Target<'a>,
}

enum Target<'a> {
    /// baker-otel's record of a `tracing` or started span, with the attribute limit.
    Record(&'a mut SpanRecord, &'a SpanContext, usize),
    /// A span of the SDK's tracer.
    Sdk(&'a mut opentelemetry_sdk::trace::Span),
}

impl fmt::Debug for StartingSpan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartingSpan")
            .field("span_context", self.span_context())
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

impl<'a> StartingSpan<'a> {
    pub(crate) fn record(record: &'a mut SpanRecord, sc: &'a SpanContext, max: usize) -> Self {
        Self {
            target: Target::Record(record, sc, max),
        }
    }

    pub(crate) fn sdk(span: &'a mut opentelemetry_sdk::trace::Span) -> Self {
        Self {
            target: Target::Sdk(span),
        }
    }

    /// The span's trace id, span id, flags (sampled or recorded only) and trace state.
    pub fn span_context(&self) -> &SpanContext {
        use opentelemetry::trace::Span as _;
        match &self.target {
            Target::Record(_, sc, _) => sc,
            Target::Sdk(span) => span.span_context(),
        }
    }

    /// The span's name so far; `None` for spans of the SDK's tracer (its `Span` does not show
    /// it before it ends).
    pub fn name(&self) -> Option<&str> {
        match &self.target {
            Target::Record(r, _, _) => Some(r.name()),
            Target::Sdk(_) => None,
        }
    }

    /// The span's kind; `None` for spans of the SDK's tracer (as for [`name`](Self::name)).
    pub fn kind(&self) -> Option<&SpanKind> {
        match &self.target {
            Target::Record(r, _, _) => Some(r.kind()),
            Target::Sdk(_) => None,
        }
    }

    /// Adds an attribute (past the per-span limit it is dropped and counted, as the SDK does).
    pub fn set_attribute(&mut self, attribute: KeyValue) {
        use opentelemetry::trace::Span as _;
        match &mut self.target {
            Target::Record(r, _, max) => r.push_attribute_within(attribute, *max),
            Target::Sdk(span) => span.set_attribute(attribute),
        }
    }
}

/// The service's span plug-ins as the builder collects them.
#[derive(Default)]
pub(crate) struct SpanPlugins {
    pub(crate) sampler: Option<SharedSampler>,
    pub(crate) ids: Option<SharedIds>,
    pub(crate) processors: Vec<Box<dyn SpanProcessor>>,
    pub(crate) hooks: Vec<Box<dyn SpanStartHook>>,
}

impl SpanPlugins {
    /// What the spans run at start and end; `None` without processors or hooks (the default
    /// path then tests one `Option` per span end and nothing else).
    pub(crate) fn take_stages(
        &mut self,
        resource: &opentelemetry_sdk::Resource,
    ) -> Option<Box<SpanStages>> {
        if self.processors.is_empty() && self.hooks.is_empty() {
            return None;
        }
        let mut processors = std::mem::take(&mut self.processors);
        for p in &mut processors {
            // The tracer provider cannot: it only sees the wrapper holding them.
            p.set_resource(resource);
        }
        Some(Box::new(SpanStages {
            processors: processors.into(),
            hooks: std::mem::take(&mut self.hooks),
            shut_down: AtomicBool::new(false),
        }))
    }
}

/// The user's span processors and start hooks, run for every span of the pipeline.
pub(crate) struct SpanStages {
    /// Shared with the thread that shuts them down alongside the export queue.
    processors: Arc<[Box<dyn SpanProcessor>]>,
    hooks: Vec<Box<dyn SpanStartHook>>,
    /// Set when shutdown starts: spans ending after it are not handed to the processors (the
    /// SDK's provider does the same).
    shut_down: AtomicBool,
}

impl fmt::Debug for SpanStages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanStages")
            .field("processors", &self.processors)
            .field("hooks", &self.hooks.len())
            .finish_non_exhaustive()
    }
}

impl SpanStages {
    /// The start hooks on a span of baker-otel's own.
    pub(crate) fn start_record(
        &self,
        parent: &Context,
        record: &mut SpanRecord,
        sc: &SpanContext,
        max: usize,
    ) {
        for hook in &self.hooks {
            hook.on_start(&mut StartingSpan::record(record, sc, max), parent);
        }
    }

    /// The start hooks and the processors' `on_start` on a span of the SDK's tracer.
    pub(crate) fn start_sdk(&self, span: &mut opentelemetry_sdk::trace::Span, parent: &Context) {
        for hook in &self.hooks {
            hook.on_start(&mut StartingSpan::sdk(span), parent);
        }
        for p in self.processors.iter() {
            p.on_start(span, parent);
        }
    }

    /// Whether the processors take ended spans (there are some, and shutdown has not started).
    #[inline]
    pub(crate) fn takes_ended(&self) -> bool {
        !self.processors.is_empty() && !self.shut_down.load(Ordering::Acquire)
    }

    /// Hands a copy of the ended span to each processor, in the order they were added.
    pub(crate) fn on_end(&self, span: &SpanData) {
        for p in self.processors.iter() {
            p.on_end(span.clone());
        }
    }

    /// Flushes every processor, in order; the first error is returned after all ran.
    pub(crate) fn force_flush(&self) -> OTelSdkResult {
        crate::util::first_error(self.processors.iter().map(|p| p.force_flush()))
    }

    /// Shuts every processor down, in order, each with what is left of `timeout`; no span
    /// reaches them afterwards. To be run alongside the export queue's shutdown.
    pub(crate) fn shutdown_task(&self, timeout: Duration) -> impl FnOnce() -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Release);
        let processors = self.processors.clone();
        move || {
            crate::util::shutdown_in_order(&processors, timeout, |p, t| p.shutdown_with_timeout(t))
        }
    }
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
