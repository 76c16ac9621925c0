//! Trace pipeline: sampler, the Baker span processor and the tracer provider.

use crate::config::{ExporterKind, SamplerConfig, SignalConfig};
use crate::export::batch::{BatchExporter, BatchQueue};
use crate::export::{build, console::ConsoleSpans};
use crate::span_layer::{Shared, SpanLayer};
use crate::InitError;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use std::time::Duration;

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

/// The export queue of finished spans, shared by the span layer and the SDK's span processor.
#[derive(Debug)]
pub(crate) struct SpanSink {
    /// Boxed: a span moves from the `tracing` span into the ring as a pointer.
    queue: BatchQueue<Box<SpanData>>,
    max_value_len: usize,
}

impl SpanSink {
    pub(crate) fn new(queue: BatchQueue<Box<SpanData>>, max_value_len: usize) -> Self {
        Self {
            queue,
            max_value_len,
        }
    }

    /// After shutdown: spans ending now are not exported (nor counted as drops).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Cuts over-long attribute values and queues the span (never blocks). A span the full
    /// queue drops gives its allocation to the next span (`export::recycle`), uncut: while the
    /// collector is down, dropping is the hot path.
    #[inline]
    pub(crate) fn push(&self, span: Box<SpanData>) {
        let max = self.max_value_len;
        let cut = |span: &mut Box<SpanData>| {
            truncate_attributes(&mut span.attributes, max);
            for e in span.events.events.iter_mut() {
                truncate_attributes(&mut e.attributes, max);
            }
        };
        if let Err(span) = self.queue.push_prepared(span, cut) {
            crate::export::recycle::give_back_one(span);
        }
    }
}

/// For spans started through the OpenTelemetry API: adds Baker ids from the parent context's
/// baggage on start; queues finished spans.
#[derive(Debug)]
pub(crate) struct BakerSpanProcessor {
    sink: Arc<SpanSink>,
}

/// Marker appended to a value cut by the attribute length limit.
pub(crate) const TRUNCATED: &str = "…[truncated]";

/// `s` cut to at most `max` bytes (on a char boundary), ending with [`TRUNCATED`].
pub(crate) fn truncated(s: &str, max: usize) -> String {
    let cut = crate::util::truncate_str(s, max.saturating_sub(TRUNCATED.len()));
    format!("{cut}{TRUNCATED}")
}

/// Cuts string attribute values (and strings in string arrays) longer than `max` bytes (on a
/// char boundary) and marks them.
pub(crate) fn truncate_attributes(attrs: &mut [opentelemetry::KeyValue], max: usize) {
    use opentelemetry::{Array, StringValue, Value};
    for kv in attrs {
        match &kv.value {
            Value::String(s) if s.as_str().len() > max => {
                kv.value = Value::String(truncated(s.as_str(), max).into());
            }
            Value::Array(Array::String(list)) if list.iter().any(|s| s.as_str().len() > max) => {
                let cut: Vec<StringValue> = list
                    .iter()
                    .map(|s| {
                        if s.as_str().len() > max {
                            truncated(s.as_str(), max).into()
                        } else {
                            s.clone()
                        }
                    })
                    .collect();
                kv.value = Value::Array(Array::String(cut));
            }
            _ => {}
        }
    }
}

impl SpanProcessor for BakerSpanProcessor {
    #[inline]
    fn on_start(&self, span: &mut Span, cx: &Context) {
        use opentelemetry::trace::Span as _;
        crate::context::push_id_attributes(cx, |k, v| {
            span.set_attribute(opentelemetry::KeyValue::new(k, v))
        });
    }

    #[inline]
    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.sink.push(crate::export::recycle::boxed(span));
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.sink.queue.flush(Duration::from_secs(5))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.sink.queue.shutdown(timeout)
    }
}

/// Builds the exporter list for spans (OTLP and/or console), or `None` when there is none.
/// The exporters `sc` selects (OTLP and/or console); combined by [`build::combine`].
pub(crate) fn exporters(
    sc: &SignalConfig,
    handle: &tokio::runtime::Handle,
    resource: &Resource,
    drops: &std::sync::Arc<crate::export::Drops>,
) -> Result<Vec<Box<dyn BatchExporter<Box<SpanData>>>>, InitError> {
    let mut list: Vec<Box<dyn BatchExporter<Box<SpanData>>>> = Vec::new();
    for kind in &sc.exporters {
        match kind {
            ExporterKind::Otlp => list.push(build::otlp_spans(sc, handle, resource, drops)?),
            ExporterKind::Console => list.push(Box::new(ConsoleSpans)),
            ExporterKind::Prometheus => {}
        }
    }
    Ok(list)
}

/// The whole trace pipeline: the configured exporters plus `extra`, one bounded queue, the
/// Baker span processor and the tracer provider, and the span layer feeding the same queue.
pub(crate) fn pipeline(
    cfg: &crate::config::Config,
    handle: &tokio::runtime::Handle,
    resource: &Resource,
    extra: Vec<Box<dyn BatchExporter<Box<SpanData>>>>,
    dropped: std::sync::Arc<crate::export::Drops>,
) -> Result<(SdkTracerProvider, SpanLayer), InitError> {
    let mut list = exporters(&cfg.traces, handle, resource, &dropped)?;
    list.extend(extra);
    let sink = build::combine(list).map(|e| {
        Arc::new(SpanSink::new(
            BatchQueue::start(handle, e, cfg.span_batch, dropped, "traces", |s| {
                crate::export::size::span(s)
            }),
            cfg.limits.attribute_value_length,
        ))
    });
    let layer = SpanLayer::new(Shared::new(cfg.sampler, cfg.limits, sink.clone()));
    let processor = sink.map(|sink| BakerSpanProcessor { sink });
    Ok((
        provider(
            resource.clone(),
            sampler(cfg.sampler),
            cfg.limits,
            processor,
        ),
        layer,
    ))
}

pub(crate) fn provider(
    resource: Resource,
    sampler: Sampler,
    limits: crate::config::Limits,
    processor: Option<BakerSpanProcessor>,
) -> SdkTracerProvider {
    let mut b = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(sampler)
        .with_max_attributes_per_span(limits.attribute_count)
        .with_max_events_per_span(limits.event_count)
        .with_max_links_per_span(limits.link_count);
    if let Some(p) = processor {
        b = b.with_span_processor(p);
    }
    b.build()
}
