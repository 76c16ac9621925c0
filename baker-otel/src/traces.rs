//! Trace pipeline: sampler, the Baker span processor and the tracer provider.

use crate::export::batch::{BatchExporter, BatchQueue};
use crate::export::sink::SpanSink;
use crate::export::{build, select};
use crate::span_layer::{Shared, SpanLayer, SpanPlugins};
use crate::InitError;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use std::time::Duration;

/// The tracer provider's only processor, for spans started through the OpenTelemetry API: adds
/// Baker ids from the parent context's baggage on start and runs the service's start hooks and
/// processors (the same ones `tracing` spans go through); queues finished spans.
#[derive(Debug)]
pub(crate) struct BakerSpanProcessor {
    shared: Arc<Shared>,
}

impl SpanProcessor for BakerSpanProcessor {
    #[inline]
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.shared.start_sdk(span, cx);
    }

    #[inline]
    fn on_end(&self, span: SpanData) {
        self.shared.end_sdk(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.shared.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shared.shutdown(timeout)
    }
}

/// The whole trace pipeline: the configured exporters plus `extra`, one bounded queue, the
/// Baker span processor and the tracer provider, and the span layer feeding the same queue;
/// the service's span plug-ins in both.
pub(crate) fn pipeline(
    cfg: &crate::config::Config,
    handle: &tokio::runtime::Handle,
    resource: &Resource,
    extra: Vec<Box<dyn BatchExporter<Box<SpanData>>>>,
    dropped: std::sync::Arc<crate::export::Drops>,
    compat: crate::CompatSpans,
    mut plugins: SpanPlugins,
) -> Result<(SdkTracerProvider, SpanLayer), InitError> {
    let mut list = select::spans(&cfg.traces, handle, resource, &dropped)?;
    list.extend(extra);
    let sink = build::combine(list).map(|e| {
        Arc::new(SpanSink::new(
            BatchQueue::start(handle, e, cfg.span_batch, dropped, "traces", |s| {
                crate::export::size::span(s)
            }),
            cfg.limits.attribute_value_length,
        ))
    });
    let shared = Shared::new(cfg.sampler, cfg.limits, sink, &mut plugins, resource);
    let layer = SpanLayer::new(shared, compat);
    let processor = layer.shared.takes_sdk_spans().then(|| BakerSpanProcessor {
        shared: layer.shared.clone(),
    });
    let mut b = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_max_attributes_per_span(cfg.limits.attribute_count)
        .with_max_events_per_span(cfg.limits.event_count)
        .with_max_links_per_span(cfg.limits.link_count);
    // The span layer's sampler and id generator: one instance each for every span.
    b = match plugins.sampler {
        Some(s) => b.with_sampler(s),
        None => b.with_sampler(Sampler::from(cfg.sampler)),
    };
    if let Some(ids) = plugins.ids {
        b = b.with_id_generator(ids);
    }
    if let Some(p) = processor {
        b = b.with_span_processor(p);
    }
    Ok((b.build(), layer))
}
