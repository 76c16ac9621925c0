//! The `tracing` → OpenTelemetry span layer.
//!
//! Each `tracing` span gets its trace and span ids and its sampling decision when it is created;
//! its fields become attributes (`otel.name`, `otel.kind`, `otel.status_code` and
//! `otel.status_description` set name, kind and status). The span is exported as `SpanData`
//! into the same bounded queue the SDK's spans go to when it closes. Entering it (or asking for
//! [`OpenTelemetrySpanExt::context`]) activates an OpenTelemetry [`Context`] holding it, so
//! `Context::current()`, the propagators, JSON log lines and OTLP log records see it.

mod ext;
mod live;
mod record;
mod state;

pub use ext::{OpenTelemetrySpanExt, SetParentError};

use crate::config::SamplerConfig;
use crate::traces::SpanSink;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags};
use opentelemetry::{Context, ContextGuard, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample, SpanData,
};
use record::{FieldVisitor, SpanRecord};
use state::SpanState;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::SystemTime;
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

/// Sampler, id generator, limits and the export queue, shared by every span of one pipeline.
#[derive(Debug)]
pub(crate) struct Shared {
    sampler: SamplerConfig,
    /// The same sampler as the SDK runs it (for the ratio-based ones).
    sdk_sampler: Sampler,
    ids: RandomIdGenerator,
    pub(crate) max_attributes: usize,
    pub(crate) max_events: usize,
    pub(crate) max_links: usize,
    sink: Option<Arc<SpanSink>>,
    pub(crate) scope: InstrumentationScope,
}

/// Ids and sampling decision of a new span.
pub(crate) struct Sampled {
    pub(crate) sc: SpanContext,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_is_remote: bool,
    pub(crate) recording: bool,
    /// Attributes the sampler adds.
    pub(crate) extra: Vec<KeyValue>,
}

impl Shared {
    /// Ids and sampling decision of a span named `record.name` under `parent` (the SDK's rules).
    pub(crate) fn sample(&self, parent: &Context, record: &SpanRecord) -> Sampled {
        let span_id = self.ids.new_span_id();
        if parent.is_telemetry_suppressed() {
            return Sampled {
                sc: SpanContext::empty_context(),
                parent_span_id: SpanId::INVALID,
                parent_is_remote: false,
                recording: false,
                extra: Vec::new(),
            };
        }
        let psc = parent.span().span_context().clone();
        let (trace_id, parent_span_id, parent_is_remote, flags) = if psc.is_valid() {
            (
                psc.trace_id(),
                psc.span_id(),
                psc.is_remote(),
                psc.trace_flags(),
            )
        } else {
            (
                self.ids.new_trace_id(),
                SpanId::INVALID,
                false,
                TraceFlags::default(),
            )
        };
        // The SDK's samplers, decided inline where no trace id arithmetic is involved: they keep
        // the parent's trace state and add no attributes.
        let inline = |root: bool| {
            if parent.has_active_span() {
                psc.is_sampled()
            } else {
                root
            }
        };
        let decision = match self.sampler {
            SamplerConfig::AlwaysOn => Some(true),
            SamplerConfig::AlwaysOff => Some(false),
            SamplerConfig::ParentBasedAlwaysOn => Some(inline(true)),
            SamplerConfig::ParentBasedAlwaysOff => Some(inline(false)),
            _ => None,
        };
        let (sampled, recording, trace_state, extra) = match decision {
            Some(d) => (d, d, psc.trace_state().clone(), Vec::new()),
            None => {
                let r = self.sdk_sampler.should_sample(
                    Some(parent),
                    trace_id,
                    record.name(),
                    record.kind(),
                    record.attributes(),
                    record.links(),
                );
                let (sampled, recording) = match r.decision {
                    SamplingDecision::RecordAndSample => (true, true),
                    SamplingDecision::RecordOnly => (false, true),
                    SamplingDecision::Drop => (false, false),
                };
                (sampled, recording, r.trace_state, r.attributes)
            }
        };
        Sampled {
            sc: SpanContext::new(
                trace_id,
                span_id,
                flags.with_sampled(sampled),
                false,
                trace_state,
            ),
            parent_span_id,
            parent_is_remote,
            recording,
            extra,
        }
    }

    /// The finished span as the exporters take it; `None` when it is not sampled or the
    /// pipeline has no exporter or has shut down.
    #[inline]
    pub(crate) fn span_data(
        &self,
        record: SpanRecord,
        sc: SpanContext,
        parent_span_id: SpanId,
        parent_is_remote: bool,
    ) -> Option<Box<SpanData>> {
        if !sc.is_sampled() || self.sink.as_ref().is_none_or(|s| s.is_closed()) {
            return None;
        }
        Some(record.finish(sc, parent_span_id, parent_is_remote))
    }

    /// Queues a finished span (never blocks; a full queue drops and counts it).
    #[inline]
    pub(crate) fn push(&self, data: Box<SpanData>) {
        if let Some(sink) = &self.sink {
            sink.push(data);
        }
    }
}

/// The span layer; one per pipeline. Spans only: events are log records, never span events.
#[derive(Debug, Clone)]
pub(crate) struct SpanLayer {
    pub(crate) shared: Arc<Shared>,
}

impl SpanLayer {
    pub(crate) fn new(
        sampler: SamplerConfig,
        limits: crate::config::Limits,
        sink: Option<Arc<SpanSink>>,
    ) -> Self {
        let max = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            shared: Arc::new(Shared {
                sampler,
                sdk_sampler: crate::traces::sampler(sampler),
                ids: RandomIdGenerator::default(),
                max_attributes: max(limits.attribute_count),
                max_events: max(limits.event_count),
                max_links: max(limits.link_count),
                sink,
                scope: InstrumentationScope::builder("baker-otel").build(),
            }),
        }
    }

    fn parent<S>(&self, attrs: &Attributes<'_>, ctx: &LayerContext<'_, S>) -> Context
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if attrs.is_contextual() {
            // The entered span's context is the current one (activated on enter).
            return Context::current();
        }
        attrs
            .parent()
            .and_then(|p| ctx.span(p))
            .and_then(|p| {
                let mut ext = p.extensions_mut();
                ext.get_mut::<SpanState>().map(|s| s.child_parent())
            })
            .unwrap_or_default()
    }
}

thread_local! {
    /// Contexts attached by `on_enter`, detached by the matching `on_exit`.
    static GUARDS: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

impl<S> tracing_subscriber::Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = self.parent(attrs, &ctx);
        let name = attrs.metadata().name();
        let mut state = SpanState::new(parent, name, attrs.fields().len(), &self.shared);
        if let Some(record) = state.pending() {
            attrs.record(&mut FieldVisitor {
                record,
                limits: &self.shared,
                replace: false,
            });
        }
        state.sample(&self.shared);
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            state.with_record(&self.shared, |record, limits| {
                values.record(&mut FieldVisitor {
                    record,
                    limits,
                    replace: true,
                })
            });
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        let Some(sc) = ctx
            .span(follows)
            .and_then(|f| {
                let mut ext = f.extensions_mut();
                ext.get_mut::<SpanState>().map(|s| s.link_target())
            })
            .filter(SpanContext::is_valid)
        else {
            return;
        };
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            state.with_record(&self.shared, |r, limits| {
                r.push_link(opentelemetry::trace::Link::new(sc, Vec::new(), 0), limits)
            });
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let cx = span
            .extensions_mut()
            .get_mut::<SpanState>()
            .map(|s| s.context(&self.shared));
        // Attached with the extensions unlocked: nothing here may log into a locked span.
        if let Some(cx) = cx {
            let guard = cx.attach();
            // During thread teardown the stack may be gone: the context is then detached again
            // at once (the guard drops here) instead of panicking.
            let _ = GUARDS.try_with(|g| g.borrow_mut().push((id.clone(), guard)));
        }
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
                let now = SystemTime::now();
                state.with_record(&self.shared, |r, _| r.set_end(now));
            }
        }
        let guard = GUARDS
            .try_with(|g| {
                let mut g = g.borrow_mut();
                let at = g.iter().rposition(|(i, _)| i == id)?;
                Some(g.remove(at).1)
            })
            .ok()
            .flatten();
        // Dropped outside the borrow: detaching may log.
        drop(guard);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        // The registry drops the extensions after the last layer's `on_close`.
        let data = span
            .extensions_mut()
            .get_mut::<SpanState>()
            .and_then(|s| s.end(&self.shared));
        if let Some(data) = data {
            self.shared.push(data);
        }
    }
}
