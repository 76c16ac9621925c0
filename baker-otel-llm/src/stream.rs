//! [`LlmStream`]: a streamed LLM response that records time to first chunk and final usage.

use crate::{LlmSpan, ReportsUsage, Usage};
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// Wraps a stream of chunks. The first chunk records `gen_ai.response.time_to_first_chunk`
    /// and the TTFT metric; usage reported by chunks is merged (field-wise maximum, so both
    /// cumulative and final-chunk reports work). The span ends when the stream ends; if the
    /// stream is dropped before its end the span gets `baker.llm.cancelled=true` and
    /// `error.type=cancelled`.
    ///
    /// ```
    /// use baker_otel_llm::{llm_span, LlmStream, Usage};
    /// use futures_util::{stream, StreamExt};
    /// # futures_util::future::FutureExt::now_or_never(async {
    /// let chunks = stream::iter(vec!["Hel", "lo"]);
    /// let span = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
    /// let mut s = LlmStream::with_usage(chunks, span, |c: &&str| {
    ///     Some(Usage { output_tokens: c.len() as u64, ..Default::default() })
    /// });
    /// while let Some(chunk) = s.next().await { let _ = chunk; }
    /// # });
    /// ```
    pub struct LlmStream<S, F> {
        #[pin]
        inner: S,
        span: Option<LlmSpan>,
        extract: F,
        usage: Option<Usage>,
        first: bool,
    }

    impl<S, F> PinnedDrop for LlmStream<S, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take() {
                span.cancel();
                if let Some(u) = this.usage.take() {
                    span.record_usage(u);
                }
            }
        }
    }
}

impl<S: std::fmt::Debug, F> std::fmt::Debug for LlmStream<S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmStream")
            .field("inner", &self.inner)
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

/// Usage extractor of [`LlmStream::new`].
pub type ReportsUsageFn<C> = fn(&C) -> Option<Usage>;

impl<S, C> LlmStream<S, ReportsUsageFn<C>>
where
    S: Stream<Item = C>,
    C: ReportsUsage,
{
    /// Wraps a stream whose chunks implement [`ReportsUsage`].
    pub fn new(inner: S, span: LlmSpan) -> Self {
        Self {
            inner,
            span: Some(span),
            extract: |c: &C| c.usage(),
            usage: None,
            first: true,
        }
    }
}

impl<S, F> LlmStream<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> Option<Usage>,
{
    /// Wraps a stream, reading usage from chunks with `extract`.
    pub fn with_usage(inner: S, span: LlmSpan, extract: F) -> Self {
        Self {
            inner,
            span: Some(span),
            extract,
            usage: None,
            first: true,
        }
    }

    /// The span, until the stream has ended.
    pub fn span(&self) -> Option<&LlmSpan> {
        self.span.as_ref()
    }
}

fn merge(a: Option<Usage>, b: Usage) -> Usage {
    let a = a.unwrap_or_default();
    Usage {
        input_tokens: a.input_tokens.max(b.input_tokens),
        output_tokens: a.output_tokens.max(b.output_tokens),
        cache_read_input_tokens: a.cache_read_input_tokens.max(b.cache_read_input_tokens),
        cache_creation_input_tokens: a
            .cache_creation_input_tokens
            .max(b.cache_creation_input_tokens),
        reasoning_output_tokens: a.reasoning_output_tokens.max(b.reasoning_output_tokens),
    }
}

impl<S, F> Stream for LlmStream<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> Option<Usage>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let Some(span) = this.span.as_ref() else {
            return Poll::Ready(None);
        };
        let poll = {
            let _e = span.span().enter();
            this.inner.poll_next(cx)
        };
        match &poll {
            Poll::Ready(Some(item)) => {
                if *this.first {
                    *this.first = false;
                    span.record_time_to_first_chunk(span.elapsed());
                }
                if let Some(u) = (this.extract)(item) {
                    *this.usage = Some(merge(*this.usage, u));
                }
            }
            Poll::Ready(None) => {
                if let Some(span) = this.span.take() {
                    if let Some(u) = this.usage.take() {
                        span.record_usage(u);
                    }
                }
            }
            Poll::Pending => {}
        }
        poll
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
