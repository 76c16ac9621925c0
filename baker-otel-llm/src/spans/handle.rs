//! [`SpanHandle`]: the one handle type of the span macros, generic over a sealed [`SpanKind`].
//!
//! The handle holds what every kind shares (the `tracing` span, the hub's state, the start
//! instant and the recorded `error.type`) and implements the accessors, the outcome and the end
//! once; a kind type ([`Llm`](super::llm::Llm), [`Tool`](super::tool::Tool),
//! [`Agent`](super::agent::Agent), [`Iteration`](super::agent::Iteration),
//! [`Memory`](super::memory::Memory)) holds its own fields and says what happens at the end.

use super::outcome::{DynReports, Outcome};
use crate::content::ContentKind;
use crate::telemetry::Shared;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A span in progress, of kind `K`, created by a span macro or an attribute macro. The span
/// ends, and the kind's metrics are recorded, when the handle is dropped or [`end`](Self::end)ed.
///
/// Each kind has its alias, which is how the macros name their handle:
/// [`LlmSpan`](crate::LlmSpan), [`ToolSpan`](crate::ToolSpan), [`AgentSpan`](crate::AgentSpan),
/// [`IterationSpan`](crate::IterationSpan) and [`MemorySpan`](crate::MemorySpan). The methods
/// below work on all of them; the others are the kind's own (e.g.
/// [`ToolSpan::record_arguments`](SpanHandle::record_arguments)).
///
/// ```
/// use baker_otel_llm::kind::Tool;
/// use baker_otel_llm::{tool_span, SpanHandle, SpanKind, ToolSpan};
///
/// // Code generic over the kind sees the shared accessors.
/// fn run_in<K: SpanKind, R>(handle: &SpanHandle<K>, f: impl FnOnce() -> R) -> R {
///     handle.in_scope(f)
/// }
///
/// let t: ToolSpan = tool_span!("web_search", call_id = "call_1");
/// let same: &SpanHandle<Tool> = &t;
/// assert_eq!(run_in(same, || 2 + 2), 4);
/// t.record_error("timeout"); // error.type=timeout, ERROR status
/// t.end(); // execute_tool web_search ends; baker.tool.duration gets error.type=timeout
/// ```
pub struct SpanHandle<K: SpanKind> {
    pub(super) span: tracing::Span,
    pub(super) shared: Arc<Shared>,
    start: Instant,
    /// The bounded `error.type` once the call failed, for the metrics at the end.
    pub(super) error: Mutex<Option<String>>,
    pub(super) kind: K,
}

/// The kind of a [`SpanHandle`]: [`Llm`](crate::kind::Llm), [`Tool`](crate::kind::Tool),
/// [`Agent`](crate::kind::Agent), [`Iteration`](crate::kind::Iteration) or
/// [`Memory`](crate::kind::Memory). Sealed: only this crate implements it.
///
/// ```
/// use baker_otel_llm::{memory_span, SpanHandle, SpanKind};
/// fn failed<K: SpanKind>(handle: &SpanHandle<K>, error_type: &str) {
///     handle.record_error(error_type);
/// }
/// failed(&memory_span!(search, "notes"), "timeout");
/// ```
pub trait SpanKind: sealed::Kind {}
impl<K: sealed::Kind> SpanKind for K {}

pub(super) mod sealed {
    use super::{ContentKind, DynReports, SpanHandle};

    /// What differs between the kinds. In a private module, so nobody outside the crate can
    /// implement [`SpanKind`](super::SpanKind) or call these.
    pub trait Kind: Sized {
        /// The alias, for `Debug`.
        const NAME: &'static str;
        /// The content kind whose capture decides whether an error's description is recorded.
        const ERROR_CONTENT: ContentKind;
        /// Records what a returned value reports (`#[llm_call]`, `#[tool]`).
        fn report(_h: &SpanHandle<Self>, _r: &dyn DynReports) {}
        /// Runs once when the handle drops: `elapsed` seconds since the start, `error` the
        /// bounded `error.type` if the call failed.
        fn end(h: &SpanHandle<Self>, elapsed: f64, error: Option<String>);
        /// The kind's fields in the handle's `Debug`.
        fn debug_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>);
    }
}

impl<K: SpanKind> SpanHandle<K> {
    pub(super) fn new(span: tracing::Span, shared: Arc<Shared>, kind: K) -> Self {
        Self {
            span,
            shared,
            start: Instant::now(),
            error: Mutex::new(None),
            kind,
        }
    }

    /// The `tracing` span (to enter it, or to pass as a parent).
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Runs `f` inside the span.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.span.in_scope(f)
    }

    /// Instruments a future with the span (the handle stays usable for recording afterwards).
    pub fn instrument<F: std::future::Future>(
        &self,
        fut: F,
    ) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(fut, self.span.clone())
    }

    /// Enters the span until the guard drops (sync code only; use
    /// [`instrument`](Self::instrument) across `.await`).
    pub fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }

    /// Whether content of `kind` would be recorded (check before serialising content).
    ///
    /// ```
    /// use baker_otel_llm::content::ContentKind;
    /// let t = baker_otel_llm::tool_span!("search");
    /// assert!(!t.captures(ContentKind::ToolArguments)); // off by default
    /// ```
    pub fn captures(&self, kind: ContentKind) -> bool {
        self.shared.capture.enabled(kind)
    }

    /// Time since the span started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Marks the call failed: `error.type` (normalised; empty → `_OTHER`) and an ERROR status.
    /// The kind's duration metric, if it has one, gets the same `error.type`.
    pub fn record_error(&self, error_type: &str) {
        self.fail(error_type, None);
    }

    /// Ends the span now (same as dropping the handle).
    pub fn end(self) {}
}

impl<K: SpanKind> Outcome for SpanHandle<K> {
    fn report(&self, r: &dyn DynReports) {
        K::report(self, r);
    }

    fn fail(&self, error_type: &str, description: Option<String>) {
        let t = super::record_error(
            &self.span,
            &self.shared,
            K::ERROR_CONTENT,
            error_type,
            description.as_deref(),
        );
        if let Ok(mut e) = self.error.lock() {
            *e = Some(t.to_string());
        }
    }
}

impl<K: SpanKind> Drop for SpanHandle<K> {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let error = self.error.lock().ok().and_then(|mut e| e.take());
        K::end(self, elapsed, error);
    }
}

impl<K: SpanKind> std::fmt::Debug for SpanHandle<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct(K::NAME);
        self.kind.debug_fields(&mut d);
        d.field("span", &self.span).finish_non_exhaustive()
    }
}
