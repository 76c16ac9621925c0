//! Trace pipeline: sampler, the Baker span processor and the tracer provider.

use crate::export::batch::{BatchExporter, BatchQueue};
use crate::export::sink::SpanSink;
use crate::export::{build, select};
use crate::span_layer::{sampler, Shared, SpanLayer};
use crate::InitError;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use std::time::Duration;

/// For spans started through the OpenTelemetry API: adds Baker ids from the parent context's
/// baggage on start; queues finished spans.
#[derive(Debug)]
pub(crate) struct BakerSpanProcessor {
    sink: Arc<SpanSink>,
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
        self.sink.queue().flush(Duration::from_secs(5))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.sink.queue().shutdown(timeout)
    }
}

/// The whole trace pipeline: the configured exporters plus `extra`, one bounded queue, the
/// Baker span processor and the tracer provider, and the span layer feeding the same queue.
pub(crate) fn pipeline(
    cfg: &crate::config::Config,
    handle: &tokio::runtime::Handle,
    resource: &Resource,
    extra: Vec<Box<dyn BatchExporter<Box<SpanData>>>>,
    dropped: std::sync::Arc<crate::export::Drops>,
    compat: crate::CompatSpans,
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
    let layer = SpanLayer::new(Shared::new(cfg.sampler, cfg.limits, sink.clone()), compat);
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
