//! The export queue of finished spans, fed by the span layer (`tracing` spans) and by the SDK's
//! span processor (OpenTelemetry API spans).

use super::batch::BatchQueue;
use opentelemetry_sdk::trace::SpanData;

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

    /// The queue itself (flush and shutdown).
    pub(crate) fn queue(&self) -> &BatchQueue<Box<SpanData>> {
        &self.queue
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
        let cut = |span: &mut Box<SpanData>| crate::util::truncate_span(span, max);
        if let Err(span) = self.queue.push_prepared(span, cut) {
            crate::export::recycle::give_back_one(span);
        }
    }
}
