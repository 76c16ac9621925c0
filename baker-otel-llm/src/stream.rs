//! [`LlmStream`]: a streamed LLM response that records time to first chunk and final usage.

use crate::{ClassifyError, LlmSpan, ReportsUsage, Usage};
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// Wraps a stream of chunks. The first chunk records `gen_ai.response.time_to_first_chunk`
    /// and the TTFT metric; usage reported by chunks is merged (field-wise maximum, so both
    /// cumulative and final-chunk reports work). With [`LlmStream::new`] (chunks implementing
    /// [`ReportsUsage`]) the chunks' response id, response model and finish reasons are recorded
    /// too, and with [`LlmStream::classified`] an `Err` item's `error.type`. The span ends when
    /// the stream ends; if the stream is dropped before its end the span gets
    /// `baker.llm.cancelled=true` and `error.type=cancelled` (unless an error item already set
    /// `error.type`), and keeps what was seen.
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
    pub struct LlmStream<S, F, M = NoMeta> {
        #[pin]
        inner: S,
        span: Option<LlmSpan>,
        extract: F,
        meta: M,
        usage: Option<Usage>,
        first: bool,
        id_seen: bool,
        model_seen: bool,
        error_seen: bool,
        finish_reasons: Vec<String>,
    }

    impl<S, F, M> PinnedDrop for LlmStream<S, F, M> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take() {
                // Dropped before its end: cancelled, unless an error item already failed it.
                if !*this.error_seen {
                    span.cancel();
                }
                end(&span, this.usage.take(), this.finish_reasons);
            }
        }
    }
}

/// Writes what the stream saw onto the span before it ends.
fn end(span: &LlmSpan, usage: Option<Usage>, reasons: &[String]) {
    if let Some(u) = usage {
        span.record_usage(u);
    }
    if !reasons.is_empty() {
        let r: Vec<&str> = reasons.iter().map(String::as_str).collect();
        span.record_finish_reasons(&r);
    }
}

/// Response metadata read from each chunk of an [`LlmStream`]: response id, response model,
/// finish reasons and error type. Implemented by [`NoMeta`] (reads nothing;
/// [`LlmStream::with_usage`]), [`ReportsMeta`] (reads the chunk's [`ReportsUsage`] methods;
/// [`LlmStream::new`]) and [`ClassifiedMeta`] (also `error.type` of `Err` chunks;
/// [`LlmStream::classified`]).
///
/// ```
/// use baker_otel_llm::{ChunkMeta, ReportsMeta, ReportsUsage, Usage};
/// struct Chunk { id: String }
/// impl ReportsUsage for Chunk {
///     fn usage(&self) -> Option<Usage> { None }
///     fn response_id(&self) -> Option<&str> { Some(&self.id) }
/// }
/// let c = Chunk { id: "chatcmpl-1".into() };
/// assert_eq!(ReportsMeta.response_id(&c), Some("chatcmpl-1"));
/// ```
pub trait ChunkMeta<C> {
    /// `gen_ai.response.id`, recorded from the first chunk that has one.
    fn response_id<'c>(&self, chunk: &'c C) -> Option<&'c str>;
    /// `gen_ai.response.model`, recorded from the first chunk that has one.
    fn response_model<'c>(&self, chunk: &'c C) -> Option<&'c str>;
    /// Finish reasons of this chunk; those of all chunks are recorded, in order.
    fn finish_reasons<'c>(&self, chunk: &'c C) -> Vec<&'c str>;
    /// `error.type` when this chunk is an error (the first one marks the call failed).
    fn error_type<'c>(&self, _chunk: &'c C) -> Option<&'c str> {
        None
    }
}

/// [`ChunkMeta`] that reads nothing (the default of [`LlmStream::with_usage`]).
///
/// ```
/// use baker_otel_llm::{ChunkMeta, NoMeta};
/// assert!(NoMeta.finish_reasons(&"chunk").is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMeta;

impl<C> ChunkMeta<C> for NoMeta {
    fn response_id<'c>(&self, _: &'c C) -> Option<&'c str> {
        None
    }
    fn response_model<'c>(&self, _: &'c C) -> Option<&'c str> {
        None
    }
    fn finish_reasons<'c>(&self, _: &'c C) -> Vec<&'c str> {
        Vec::new()
    }
}

/// [`ChunkMeta`] of chunks implementing [`ReportsUsage`] (used by [`LlmStream::new`]).
///
/// ```
/// use baker_otel_llm::{ChunkMeta, ReportsMeta, Usage};
/// // `Usage` reports no response metadata.
/// assert_eq!(ReportsMeta.response_model(&Usage::default()), None);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportsMeta;

/// [`ChunkMeta`] of `Result<T, E>` chunks whose `T` implements [`ReportsUsage`] and whose `E`
/// implements [`ClassifyError`] (used by [`LlmStream::classified`]): what [`ReportsMeta`]
/// reads, plus `error.type` from an `Err` chunk.
///
/// ```
/// use baker_otel_llm::{ChunkMeta, ClassifiedMeta, ClassifyError, Usage};
/// struct Reset;
/// impl ClassifyError for Reset { fn error_type(&self) -> &str { "stream_error" } }
/// let chunk: Result<Usage, Reset> = Err(Reset);
/// assert_eq!(ClassifiedMeta.error_type(&chunk), Some("stream_error"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifiedMeta;

impl<T: ReportsUsage, E: ClassifyError> ChunkMeta<Result<T, E>> for ClassifiedMeta {
    fn response_id<'c>(&self, chunk: &'c Result<T, E>) -> Option<&'c str> {
        chunk.response_id()
    }
    fn response_model<'c>(&self, chunk: &'c Result<T, E>) -> Option<&'c str> {
        chunk.response_model()
    }
    fn finish_reasons<'c>(&self, chunk: &'c Result<T, E>) -> Vec<&'c str> {
        chunk.finish_reasons()
    }
    fn error_type<'c>(&self, chunk: &'c Result<T, E>) -> Option<&'c str> {
        chunk.as_ref().err().map(|e| match e.error_type() {
            "" => crate::OTHER_ERROR,
            t => t,
        })
    }
}

impl<C: ReportsUsage> ChunkMeta<C> for ReportsMeta {
    fn response_id<'c>(&self, chunk: &'c C) -> Option<&'c str> {
        chunk.response_id()
    }
    fn response_model<'c>(&self, chunk: &'c C) -> Option<&'c str> {
        chunk.response_model()
    }
    fn finish_reasons<'c>(&self, chunk: &'c C) -> Vec<&'c str> {
        chunk.finish_reasons()
    }
}

impl<S: std::fmt::Debug, F, M> std::fmt::Debug for LlmStream<S, F, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmStream")
            .field("inner", &self.inner)
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

/// Usage extractor of [`LlmStream::new`].
pub type ReportsUsageFn<C> = fn(&C) -> Option<Usage>;

impl<S, C> LlmStream<S, ReportsUsageFn<C>, ReportsMeta>
where
    S: Stream<Item = C>,
    C: ReportsUsage,
{
    /// Wraps a stream whose chunks implement [`ReportsUsage`] (`Result<T, E>` chunks too, when
    /// `T` does): usage, response id, response model and finish reasons come from the chunks.
    /// With the `async-openai` or `ollama-rs` feature, the streams of those clients need nothing
    /// else (see the crate's `adapters` module).
    pub fn new(inner: S, span: LlmSpan) -> Self {
        Self {
            inner,
            span: Some(span),
            extract: |c: &C| c.usage(),
            meta: ReportsMeta,
            usage: None,
            first: true,
            id_seen: false,
            model_seen: false,
            error_seen: false,
            finish_reasons: Vec::new(),
        }
    }
}

impl<S, T, E> LlmStream<S, ReportsUsageFn<Result<T, E>>, ClassifiedMeta>
where
    S: Stream<Item = Result<T, E>>,
    T: ReportsUsage,
    E: ClassifyError,
{
    /// Like [`new`](LlmStream::new), for streams of `Result<chunk, E>` whose error implements
    /// [`ClassifyError`] (e.g. async-openai's `OpenAIError` with the `async-openai` feature): an
    /// `Err` item also marks the call failed with its `error.type` (the first error wins).
    pub fn classified(inner: S, span: LlmSpan) -> Self {
        Self {
            inner,
            span: Some(span),
            extract: |c: &Result<T, E>| c.usage(),
            meta: ClassifiedMeta,
            usage: None,
            first: true,
            id_seen: false,
            model_seen: false,
            error_seen: false,
            finish_reasons: Vec::new(),
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
            meta: NoMeta,
            usage: None,
            first: true,
            id_seen: false,
            model_seen: false,
            error_seen: false,
            finish_reasons: Vec::new(),
        }
    }
}

impl<S, F, M> LlmStream<S, F, M> {
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

impl<S, F, M> Stream for LlmStream<S, F, M>
where
    S: Stream,
    F: FnMut(&S::Item) -> Option<Usage>,
    M: ChunkMeta<S::Item>,
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
                if !*this.id_seen {
                    if let Some(id) = this.meta.response_id(item) {
                        *this.id_seen = true;
                        span.record_response_id(id);
                    }
                }
                if !*this.model_seen {
                    if let Some(m) = this.meta.response_model(item) {
                        *this.model_seen = true;
                        span.record_response_model(m);
                    }
                }
                if !*this.error_seen {
                    if let Some(t) = this.meta.error_type(item) {
                        *this.error_seen = true;
                        span.record_error(t);
                    }
                }
                for r in this.meta.finish_reasons(item) {
                    this.finish_reasons.push(r.to_owned());
                }
            }
            Poll::Ready(None) => {
                if let Some(span) = this.span.take() {
                    end(&span, this.usage.take(), this.finish_reasons);
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
