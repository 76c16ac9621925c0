//! What every span of one pipeline shares: sampler, id generator, limits, the service's span
//! plug-ins and the export queue.

use super::plugins::{SpanPlugins, SpanStages};
use super::record::{SpanLimits, SpanRecord};
use crate::config::SamplerConfig;
use crate::export::sink::SpanSink;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample, SpanData,
};
use std::sync::Arc;
use std::time::Duration;

/// Sampler, id generator, limits, span plug-ins and the export queue, shared by every span of
/// one pipeline.
#[derive(Debug)]
pub(crate) struct Shared {
    decider: Decider,
    ids: Ids,
    pub(crate) limits: SpanLimits,
    /// The attribute value length limit, applied before the service's processors see a span.
    max_value_len: usize,
    sink: Option<Arc<SpanSink>>,
    /// The service's span processors and start hooks; `None` without any.
    stages: Option<Box<SpanStages>>,
    pub(crate) scope: InstrumentationScope,
    /// The dispatcher the pipeline's layers end up in (set by the hub's layer when it is
    /// registered), for the lookups a `Layer` cannot make through its `Context` (`compat`).
    pub(crate) dispatch: DispatchCell,
    /// The first target whose spans needed tracing-opentelemetry's layer while it was off
    /// (warned about once, `compat::warn_if_needed`).
    pub(crate) compat_warned: std::sync::OnceLock<String>,
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
    /// `sampler` unless the service installed its own; the service's id generator, processors
    /// and start hooks are taken from `plugins` (its sampler and id generator stay there for
    /// the tracer provider).
    pub(crate) fn new(
        sampler: SamplerConfig,
        limits: crate::config::Limits,
        sink: Option<Arc<SpanSink>>,
        plugins: &mut SpanPlugins,
        resource: &opentelemetry_sdk::Resource,
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
            limits: SpanLimits {
                max_attributes: max(limits.attribute_count),
                max_events: max(limits.event_count),
                max_links: max(limits.link_count),
            },
            max_value_len: limits.attribute_value_length,
            sink,
            stages: plugins.take_stages(resource),
            scope: InstrumentationScope::builder("baker-otel").build(),
            dispatch: DispatchCell::default(),
            compat_warned: std::sync::OnceLock::new(),
        }
    }

    /// Whether the tracer provider needs baker-otel's span processor: its spans go to the
    /// export queue, or to the service's processors or start hooks.
    pub(crate) fn takes_sdk_spans(&self) -> bool {
        self.sink.is_some() || self.stages.is_some()
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

    /// Runs the service's start hooks, if any, on a recording span starting under `parent`.
    #[inline]
    pub(crate) fn start_hooks(&self, parent: &Context, record: &mut SpanRecord, sc: &SpanContext) {
        if let Some(stages) = &self.stages {
            stages.start_record(parent, record, sc, self.limits.max_attributes);
        }
    }

    /// The finished span, for [`push`](Self::push); `None` when it is not sampled or the
    /// pipeline has no exporter or has shut down — unless the service has span processors,
    /// which get recorded but unsampled spans too (as the SDK's processors do).
    #[inline]
    pub(crate) fn span_data(
        &self,
        record: SpanRecord,
        sc: SpanContext,
        parent_span_id: SpanId,
        parent_is_remote: bool,
    ) -> Option<Box<SpanData>> {
        if self.stages.is_none()
            && (!sc.is_sampled() || self.sink.as_ref().is_none_or(|s| s.is_closed()))
        {
            return None;
        }
        Some(record.finish(sc, parent_span_id, parent_is_remote))
    }

    /// Hands a finished span to the service's span processors, if any, then queues it if it is
    /// sampled (never blocks; a full queue drops and counts it). Called with no lock held: a
    /// processor may log.
    #[inline]
    pub(crate) fn push(&self, data: Box<SpanData>) {
        match &self.stages {
            None => {
                if let Some(sink) = &self.sink {
                    sink.push(data);
                }
            }
            Some(stages) => self.push_processed(stages, data),
        }
    }

    /// [`push`](Self::push) through the service's processors (out of line: the default path
    /// stays as small as it was).
    #[cold]
    #[inline(never)]
    fn push_processed(&self, stages: &SpanStages, mut data: Box<SpanData>) {
        if stages.takes_ended() {
            // What the exporters will get: values cut to the length limit.
            crate::util::truncate_span(&mut data, self.max_value_len);
            stages.on_end(&data);
        }
        match &self.sink {
            Some(sink) if data.span_context.is_sampled() && !sink.is_closed() => sink.push(data),
            _ => {
                crate::export::recycle::give_back_one(data);
            }
        }
    }

    /// A span of the SDK's tracer starts: the Baker ids of `cx`'s baggage, then the service's
    /// start hooks and its processors' `on_start`.
    #[inline]
    pub(crate) fn start_sdk(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        use opentelemetry::trace::Span as _;
        crate::context::push_id_attributes(cx, |k, v| span.set_attribute(KeyValue::new(k, v)));
        if let Some(stages) = &self.stages {
            stages.start_sdk(span, cx);
        }
    }

    /// A span of the SDK's tracer ended: to the service's processors, then queued if sampled.
    #[inline]
    pub(crate) fn end_sdk(&self, span: SpanData) {
        if self.stages.is_some() || span.span_context.is_sampled() {
            self.push(crate::export::recycle::boxed(span));
        }
    }

    /// Flushes the export queue, then the service's processors.
    pub(crate) fn force_flush(&self) -> OTelSdkResult {
        let ours = self
            .sink
            .as_ref()
            .map_or(Ok(()), |s| s.queue().flush(Duration::from_secs(5)));
        let theirs = self.stages.as_ref().map_or(Ok(()), |s| s.force_flush());
        ours.and(theirs)
    }

    /// Shuts the export queue and the service's processors down at once, under one deadline.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let theirs = self.stages.as_ref().map(|s| s.shutdown_task(timeout));
        let ours = || {
            self.sink
                .as_ref()
                .map_or(Ok(()), |s| s.queue().shutdown(timeout))
        };
        crate::util::alongside(timeout, ours, theirs)
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
