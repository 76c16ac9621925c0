//! The `opentelemetry::trace::Tracer` behind tracing-opentelemetry's layer (`compat`): spans
//! start into the hub's export queue like `SpanStarter`'s, and a parent handed over by
//! baker-otel's layer travels in the span's builder.

use super::live::LiveSpan;
use super::starter::start_live;
use super::Shared;
use opentelemetry::trace::{SpanBuilder, SpanContext, Status, TraceContextExt};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;
use std::time::SystemTime;

thread_local! {
    /// The parent handed over for the span being created on this thread (see the module docs).
    static HANDED_OVER: Cell<Option<SpanContext>> = const { Cell::new(None) };
}

/// Called by baker-otel's layer for every new span `CompatSpans` selects, just before
/// tracing-opentelemetry's layer sees it: the span context of its explicit parent when that
/// parent is one of baker-otel's own spans, else `None`.
pub(crate) fn hand_over_parent(parent: Option<SpanContext>) {
    let _ = HANDED_OVER.try_with(|h| h.set(parent));
}

/// Marks the link that carries a handed-over parent through the span's builder. Removed before
/// the span starts, never exported: not an attribute name (no `baker.` namespace).
const HANDED_OVER_MARK: &str = "__baker_otel_handed_over_parent";

/// Takes a handed-over parent out of `builder`'s links.
fn take_handed_over(builder: &mut SpanBuilder) -> Option<SpanContext> {
    let links = builder.links.as_mut()?;
    let at = links.iter().position(|l| {
        l.attributes
            .iter()
            .any(|kv| kv.key.as_str() == HANDED_OVER_MARK)
    })?;
    let link = links.remove(at);
    if links.is_empty() {
        builder.links = None;
    }
    Some(link.span_context)
}

/// The `opentelemetry::trace::Tracer` behind tracing-opentelemetry's layer: spans start into
/// the hub's export queue like [`SpanStarter`](crate::SpanStarter)'s.
#[derive(Debug, Clone)]
pub(crate) struct CompatTracer {
    pub(crate) shared: Arc<Shared>,
    scope: Arc<InstrumentationScope>,
}

impl CompatTracer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            scope: Arc::new(shared.scope.clone()),
            shared,
        }
    }
}

impl opentelemetry::trace::Tracer for CompatTracer {
    type Span = CompatSpan;

    /// tracing-opentelemetry asks for the builder of each new span first: a parent handed over
    /// for it travels in the builder, as a marked link, to [`build_with_context`].
    fn span_builder<T>(&self, name: T) -> SpanBuilder
    where
        T: Into<Cow<'static, str>>,
    {
        let builder = SpanBuilder::from_name(name);
        match HANDED_OVER.try_with(Cell::take).ok().flatten() {
            None => builder,
            Some(sc) => builder.with_links(vec![opentelemetry::trace::Link::new(
                sc,
                vec![KeyValue::new(HANDED_OVER_MARK, true)],
                0,
            )]),
        }
    }

    fn build_with_context(&self, mut builder: SpanBuilder, parent_cx: &Context) -> CompatSpan {
        let handed_over = take_handed_over(&mut builder);
        // A parent set later with `set_parent` wins over the handed-over one.
        let parent = match handed_over {
            Some(sc) if !parent_cx.has_active_span() => parent_cx.with_remote_span_context(sc),
            _ => parent_cx.clone(),
        };
        match start_live(&self.shared, &self.scope, builder, [], &parent) {
            Ok(span) => CompatSpan::Live(span),
            Err(sc) => CompatSpan::Unsampled(sc),
        }
    }
}

/// A span of [`CompatTracer`]: recorded, or only its context when the sampler drops it.
#[derive(Debug)]
pub(crate) enum CompatSpan {
    Live(LiveSpan),
    Unsampled(SpanContext),
}

impl opentelemetry::trace::Span for CompatSpan {
    fn add_event_with_timestamp<T>(&mut self, name: T, timestamp: SystemTime, attrs: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Self::Live(s) = self {
            s.add_event_with_timestamp(name, timestamp, attrs);
        }
    }

    fn span_context(&self) -> &SpanContext {
        match self {
            Self::Live(s) => s.span_context(),
            Self::Unsampled(sc) => sc,
        }
    }

    fn is_recording(&self) -> bool {
        matches!(self, Self::Live(s) if s.is_recording())
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        if let Self::Live(s) = self {
            s.set_attribute(attribute);
        }
    }

    fn set_status(&mut self, status: Status) {
        if let Self::Live(s) = self {
            s.set_status(status);
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Self::Live(s) = self {
            s.update_name(new_name);
        }
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Self::Live(s) = self {
            s.add_link(span_context, attributes);
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        if let Self::Live(s) = self {
            s.end_with_timestamp(timestamp);
        }
    }
}
