//! [`ToolSpan`]: one tool execution (`execute_tool {name}`, INTERNAL).

use super::handle::{sealed, SpanHandle};
use crate::args::ToolArgs;
use crate::content::ContentKind;
use crate::semconv as sc;
use crate::telemetry::shared;
use opentelemetry::{KeyValue, StringValue};

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
pub type ToolSpan = SpanHandle<Tool>;

/// The kind of a [`ToolSpan`]: the tool's name, for the duration metric.
///
/// ```
/// let t: baker_otel_llm::SpanHandle<baker_otel_llm::kind::Tool> =
///     baker_otel_llm::tool_span!("web_search");
/// t.record_result(r#"{"hits":3}"#); // only when tool-result capture is on
/// ```
pub struct Tool {
    name: StringValue,
}

impl sealed::Kind for Tool {
    const NAME: &'static str = "ToolSpan";
    const ERROR_CONTENT: ContentKind = ContentKind::ToolResults;

    fn end(h: &SpanHandle<Self>, elapsed: f64, error: Option<String>) {
        // The span keeps the raw name; the metric label is bounded (a model picks the name).
        let bounded = h.shared.label_values.tools.get(h.kind.name.as_str());
        let name = KeyValue::new(sc::GEN_AI_TOOL_NAME, StringValue::from(bounded));
        super::record_duration(&h.shared.instruments.tool_duration, elapsed, [name], error);
    }

    fn debug_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>) {
        d.field("name", &self.name.as_str());
    }
}

impl SpanHandle<Tool> {
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
        Self::new(span, shared(), Tool { name: a.name })
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
}
