//! [`ToolSpan`]: one tool execution (`execute_tool {name}`, INTERNAL).

use super::outcome::{DynReports, Outcome};
use crate::args::ToolArgs;
use crate::content::ContentKind;
use crate::semconv as sc;
use crate::telemetry::{shared, Shared};
use opentelemetry::{KeyValue, StringValue};
use std::sync::Mutex;
use std::time::Instant;

/// A tool execution in progress, created by [`tool_span!`](crate::tool_span) or `#[tool]`.
/// Dropping it ends the span and records `baker.tool.duration`.
///
/// ```
/// use baker_otel_llm::tool_span;
/// let t = tool_span!("web_search", call_id = "call_1");
/// t.record_arguments(r#"{"q":"rust"}"#);   // only when tool-argument capture is on
/// t.in_scope(|| { /* run the tool */ });
/// t.end();
/// ```
pub struct ToolSpan {
    span: tracing::Span,
    shared: std::sync::Arc<Shared>,
    start: Instant,
    name: StringValue,
    error: Mutex<Option<String>>,
}

impl std::fmt::Debug for ToolSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpan")
            .field("name", &self.name.as_str())
            .finish_non_exhaustive()
    }
}

impl ToolSpan {
    pub(crate) fn start(span: tracing::Span, a: ToolArgs) -> Self {
        let acc = crate::accumulator::current();
        if let Some(acc) = &acc {
            acc.add_tool_call();
        }
        if a.iteration.is_none() {
            if let Some(i) = acc.and_then(|a| a.iteration()) {
                span.record(sc::BAKER_AGENT_ITERATION, i);
            }
        }
        Self {
            span,
            shared: shared(),
            start: Instant::now(),
            name: a.name,
            error: Mutex::new(None),
        }
    }

    /// The `tracing` span.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }
    /// Runs `f` inside the span.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.span.in_scope(f)
    }
    /// Instruments a future with the span.
    pub fn instrument<F: std::future::Future>(
        &self,
        fut: F,
    ) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(fut, self.span.clone())
    }
    /// `gen_ai.tool.call.arguments`, if tool-argument capture is on; redacted and truncated.
    pub fn record_arguments(&self, json: &str) {
        if let Some(v) = self
            .shared
            .capture
            .prepare(ContentKind::ToolArguments, json)
        {
            self.span.record(sc::GEN_AI_TOOL_CALL_ARGUMENTS, v.as_str());
        }
    }
    /// `gen_ai.tool.call.result`, if tool-result capture is on; redacted and truncated.
    pub fn record_result(&self, json: &str) {
        if let Some(v) = self.shared.capture.prepare(ContentKind::ToolResults, json) {
            self.span.record(sc::GEN_AI_TOOL_CALL_RESULT, v.as_str());
        }
    }
    /// Whether content of `kind` would be recorded (check before serialising arguments).
    ///
    /// ```
    /// use baker_otel_llm::content::ContentKind;
    /// let t = baker_otel_llm::tool_span!("search");
    /// assert!(!t.captures(ContentKind::ToolArguments)); // off by default
    /// ```
    pub fn captures(&self, kind: ContentKind) -> bool {
        self.shared.capture.enabled(kind)
    }
    /// `gen_ai.tool.call.arguments` from a JSON value, if tool-argument capture is on; redacted
    /// on its parsed string values, then truncated. `#[tool]` calls it with the function's
    /// arguments that implement `serde::Serialize`.
    ///
    /// ```
    /// let t = baker_otel_llm::tool_span!("search");
    /// t.record_arguments_json(serde_json::json!({"q": "rust"}));
    /// ```
    pub fn record_arguments_json(&self, args: serde_json::Value) {
        if let Some(v) = self
            .shared
            .capture
            .prepare_json(ContentKind::ToolArguments, args)
        {
            self.span.record(sc::GEN_AI_TOOL_CALL_ARGUMENTS, v.as_str());
        }
    }
    /// `gen_ai.tool.call.result` from a JSON value, if tool-result capture is on; redacted and
    /// truncated. `#[tool]` calls it with the `Ok` value (or the return value) when it
    /// implements `serde::Serialize`.
    ///
    /// ```
    /// let t = baker_otel_llm::tool_span!("search");
    /// t.record_result_json(serde_json::json!(["hit"]));
    /// ```
    pub fn record_result_json(&self, result: serde_json::Value) {
        if result.is_null() {
            return;
        }
        if let Some(v) = self
            .shared
            .capture
            .prepare_json(ContentKind::ToolResults, result)
        {
            self.span.record(sc::GEN_AI_TOOL_CALL_RESULT, v.as_str());
        }
    }
    /// Marks the execution failed (`error.type`, empty → `_OTHER`).
    pub fn record_error(&self, error_type: &str) {
        self.fail(error_type, None);
    }
    /// Ends the span now.
    pub fn end(self) {}
}

impl Outcome for ToolSpan {
    fn report(&self, _r: &dyn DynReports) {}
    fn fail(&self, error_type: &str, description: Option<String>) {
        let t = super::record_error(
            &self.span,
            &self.shared,
            ContentKind::ToolResults,
            error_type,
            description.as_deref(),
        );
        if let Ok(mut e) = self.error.lock() {
            *e = Some(t.to_string());
        }
    }
}

impl Drop for ToolSpan {
    fn drop(&mut self) {
        let d = self.start.elapsed().as_secs_f64();
        // The span keeps the raw name; the metric label is bounded (a model picks the name).
        let bounded = self.shared.label_values.tools.get(self.name.as_str());
        let name = KeyValue::new(sc::GEN_AI_TOOL_NAME, StringValue::from(bounded));
        match self.error.lock().ok().and_then(|mut e| e.take()) {
            None => self.shared.instruments.tool_duration.record(d, &[name]),
            Some(e) => self
                .shared
                .instruments
                .tool_duration
                .record(d, &[name, KeyValue::new(sc::ERROR_TYPE, e)]),
        }
    }
}
