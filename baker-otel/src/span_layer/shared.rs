//! What every span of one pipeline shares: sampler, id generator, limits and the export queue.

use super::record::{SpanLimits, SpanRecord};
use crate::config::SamplerConfig;
use crate::export::sink::SpanSink;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample, SpanData,
};
use std::sync::Arc;

/// Sampler, id generator, limits and the export queue, shared by every span of one pipeline.
#[derive(Debug)]
pub(crate) struct Shared {
    sampler: SamplerConfig,
    /// The same sampler as the SDK runs it (for the ratio-based ones).
    sdk_sampler: Sampler,
    ids: RandomIdGenerator,
    pub(crate) limits: SpanLimits,
    sink: Option<Arc<SpanSink>>,
    pub(crate) scope: InstrumentationScope,
    /// The dispatcher the pipeline's layers end up in (set by the hub's layer when it is
    /// registered), for the lookups a `Layer` cannot make through its `Context` (`compat`).
    pub(crate) dispatch: DispatchCell,
    /// The first target whose spans needed tracing-opentelemetry's layer while it was off
    /// (warned about once, `compat::warn_if_needed`).
    pub(crate) compat_warned: std::sync::OnceLock<String>,
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
    pub(crate) fn new(
        sampler: SamplerConfig,
        limits: crate::config::Limits,
        sink: Option<Arc<SpanSink>>,
    ) -> Self {
        let max = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            sampler,
            sdk_sampler: self::sampler(sampler),
            ids: RandomIdGenerator::default(),
            limits: SpanLimits {
                max_attributes: max(limits.attribute_count),
                max_events: max(limits.event_count),
                max_links: max(limits.link_count),
            },
            sink,
            scope: InstrumentationScope::builder("baker-otel").build(),
            dispatch: DispatchCell::default(),
            compat_warned: std::sync::OnceLock::new(),
        }
    }

    /// Ids and sampling decision of a span named `record.name` under `parent` (the SDK's rules).
    pub(crate) fn sample(&self, parent: &Context, record: &SpanRecord) -> Sampled {
        if parent.is_telemetry_suppressed() {
            return Sampled {
                sc: SpanContext::empty_context(),
                parent_span_id: SpanId::INVALID,
                parent_is_remote: false,
                recording: false,
                extra: Vec::new(),
            };
        }
        let span_id = self.ids.new_span_id();
        let parent_span = parent.span();
        let psc = parent_span.span_context();
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

/// The SDK sampler of a [`SamplerConfig`] (the tracer provider uses the same one).
pub(crate) fn sampler(cfg: SamplerConfig) -> Sampler {
    match cfg {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerConfig::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}

/// The dispatcher baker-otel's layers end up in, for the lookups a `Layer` cannot make through
/// its `Context`. Set by the hub's layer, which is never stacked inside an `Option` (whose
/// `Layer` impl does not pass `on_register_dispatch` on); weak, so no cycle.
#[derive(Debug, Default)]
pub(crate) struct DispatchCell(std::sync::OnceLock<tracing::dispatcher::WeakDispatch>);

impl DispatchCell {
    pub(crate) fn set(&self, dispatch: &tracing::Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }

    pub(crate) fn get(&self) -> Option<tracing::Dispatch> {
        self.0.get()?.upgrade()
    }
}
