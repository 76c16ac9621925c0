//! What every span of one pipeline shares: sampler, id generator, limits and the export queue.

use super::plugins::SpanPlugins;
use super::record::SpanRecord;
use crate::config::SamplerConfig;
use crate::export::sink::SpanSink;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample, SpanData,
};
use std::sync::Arc;

/// Sampler, id generator, limits and the export queue, shared by every span of one pipeline.
#[derive(Debug)]
pub(crate) struct Shared {
    decider: Decider,
    ids: Ids,
    pub(crate) max_attributes: usize,
    pub(crate) max_events: usize,
    pub(crate) max_links: usize,
    sink: Option<Arc<SpanSink>>,
    pub(crate) scope: InstrumentationScope,
}

/// Who decides whether a span is sampled.
#[derive(Debug)]
enum Decider {
    /// The SDK's samplers that need no trace id arithmetic, decided inline: they keep the
    /// parent's trace state and add no attributes.
    AlwaysOn,
    AlwaysOff,
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    /// The ratio-based SDK samplers, or the service's own (`with_sampler`).
    Sampler(Arc<dyn ShouldSample>),
}

/// The id generator: the SDK's random one (called directly), or the service's own.
#[derive(Debug)]
enum Ids {
    Random(RandomIdGenerator),
    Service(Arc<dyn IdGenerator>),
}

impl Ids {
    #[inline]
    fn span_id(&self) -> SpanId {
        match self {
            Self::Random(r) => r.new_span_id(),
            Self::Service(g) => g.new_span_id(),
        }
    }

    #[inline]
    fn trace_id(&self) -> TraceId {
        match self {
            Self::Random(r) => r.new_trace_id(),
            Self::Service(g) => g.new_trace_id(),
        }
    }
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
    /// `sampler` unless the service installed its own (`plugins`, which the tracer provider
    /// gets too), and the service's id generator if any.
    pub(crate) fn new(
        sampler: SamplerConfig,
        limits: crate::config::Limits,
        sink: Option<Arc<SpanSink>>,
        plugins: &SpanPlugins,
    ) -> Self {
        let max = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        let decider = match (&plugins.sampler, sampler) {
            (Some(s), _) => Decider::Sampler(s.0.clone()),
            (None, SamplerConfig::AlwaysOn) => Decider::AlwaysOn,
            (None, SamplerConfig::AlwaysOff) => Decider::AlwaysOff,
            (None, SamplerConfig::ParentBasedAlwaysOn) => Decider::ParentBasedAlwaysOn,
            (None, SamplerConfig::ParentBasedAlwaysOff) => Decider::ParentBasedAlwaysOff,
            (None, ratio) => Decider::Sampler(Arc::new(Sampler::from(ratio))),
        };
        Self {
            decider,
            ids: match &plugins.ids {
                Some(ids) => Ids::Service(ids.0.clone()),
                None => Ids::Random(RandomIdGenerator::default()),
            },
            max_attributes: max(limits.attribute_count),
            max_events: max(limits.event_count),
            max_links: max(limits.link_count),
            sink,
            scope: InstrumentationScope::builder("baker-otel").build(),
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
        let span_id = self.ids.span_id();
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
                self.ids.trace_id(),
                SpanId::INVALID,
                false,
                TraceFlags::default(),
            )
        };
        let inline = |sampled: bool| (sampled, sampled, psc.trace_state().clone(), Vec::new());
        let parent_based = |root: bool| {
            if parent.has_active_span() {
                psc.is_sampled()
            } else {
                root
            }
        };
        let (sampled, recording, trace_state, extra) = match &self.decider {
            Decider::AlwaysOn => inline(true),
            Decider::AlwaysOff => inline(false),
            Decider::ParentBasedAlwaysOn => inline(parent_based(true)),
            Decider::ParentBasedAlwaysOff => inline(parent_based(false)),
            Decider::Sampler(sampler) => {
                let r = sampler.should_sample(
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

/// The SDK sampler of a [`SamplerConfig`]: what the pipeline runs when the service installs no
/// sampler of its own, and what such a sampler can fall back to (`OTEL_TRACES_SAMPLER` /
/// `OTEL_TRACES_SAMPLER_ARG`, or [`TelemetryBuilder::sampler`](crate::TelemetryBuilder::sampler)).
///
/// ```
/// use baker_otel::config::{EnvSource, SamplerConfig};
/// use opentelemetry_sdk::trace::Sampler;
///
/// let cfg = baker_otel::Telemetry::builder()
///     .env_source(EnvSource::from_pairs([
///         ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
///         ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
///     ]))
///     .config()?;
/// assert_eq!(cfg.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.25));
/// let configured = Sampler::from(cfg.sampler);
/// # drop(configured);
/// # Ok::<(), baker_otel::InitError>(())
/// ```
impl From<SamplerConfig> for Sampler {
    fn from(cfg: SamplerConfig) -> Self {
        match cfg {
            SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
            SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
            SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
            SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            SamplerConfig::ParentBasedAlwaysOff => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff))
            }
            SamplerConfig::ParentBasedTraceIdRatio(r) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
            }
        }
    }
}
