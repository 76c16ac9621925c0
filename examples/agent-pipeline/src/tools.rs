//! The agent's tools, each traced with `#[tool]` as `execute_tool {name}`: `calculator`,
//! `memory_search` (a memory-store search span inside) and `order_lookup`, an extension called
//! over HTTP with `baker_otel_axum::OtelClientLayer::reqwest_client` (a CLIENT span per hop,
//! `traceparent` and the ids in `baggage` injected as the outbound policy allows for each hop).

use crate::calculator::{self, CalcError};
use crate::llm::ToolCall;
use crate::memory::MemoryStore;
use baker_otel_llm::{memory_span, tool, tool_span, ClassifyError};
use std::sync::Arc;

/// Name of the Worker's memory store.
pub const MEMORY_STORE: &str = "agent-notes";

/// Why a tool call failed. The span gets `error.type` from [`ClassifyError`] and the message
/// as its status description.
///
/// ```
/// use baker_otel_llm::ClassifyError;
/// let e = agent_pipeline::tools::ToolError::UnknownTool("weather".into());
/// assert_eq!(e.error_type(), "unknown_tool");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The calculator could not evaluate the expression.
    #[error("cannot evaluate {expression:?}: {source}")]
    Calculator {
        /// The expression.
        expression: String,
        /// Why.
        source: CalcError,
    },
    /// The extension server could not be reached.
    #[error("extension unreachable: {0}")]
    ExtensionUnreachable(String),
    /// The extension answered with an error status.
    #[error("extension answered {0}")]
    ExtensionStatus(u16),
    /// The extension's answer was not the expected JSON.
    #[error("extension sent an invalid answer: {0}")]
    ExtensionInvalid(String),
    /// The model asked for a tool that does not exist.
    #[error("unknown tool {0}")]
    UnknownTool(String),
}

impl ClassifyError for ToolError {
    fn error_type(&self) -> &str {
        match self {
            ToolError::Calculator {
                source: CalcError::DivisionByZero,
                ..
            } => "division_by_zero",
            ToolError::Calculator { .. } => "invalid_expression",
            ToolError::ExtensionUnreachable(_) => "extension_unreachable",
            ToolError::ExtensionStatus(_) => "extension_error",
            ToolError::ExtensionInvalid(_) => "extension_invalid_response",
            ToolError::UnknownTool(_) => "unknown_tool",
        }
    }
}

/// The tools and what they need.
///
/// ```
/// use std::sync::Arc;
/// # let capture = baker_otel::testing::Capture::new();
/// # let telemetry = capture.telemetry();
/// let tools = agent_pipeline::tools::Tools::new(
///     Arc::new(agent_pipeline::memory::MemoryStore::seeded()),
///     "http://127.0.0.1:1".into(),
///     baker_otel_axum::OtelClientLayer::new(&telemetry),
/// );
/// let call = agent_pipeline::llm::ToolCall {
///     id: "call_1".into(),
///     name: "calculator".into(),
///     arguments: serde_json::json!({ "expression": "6 * 7" }),
/// };
/// assert_eq!(tools.calculator(&call).unwrap(), "6 * 7 = 42");
/// ```
#[derive(Debug, Clone)]
pub struct Tools {
    memory: Arc<MemoryStore>,
    http: baker_otel_axum::OtelReqwestClient,
    extension_url: String,
}

fn arg(call: &ToolCall, key: &str) -> String {
    call.arguments
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

impl Tools {
    /// Tools over `memory`, calling the extension server at `extension_url` (base URL) through
    /// `outbound` (CLIENT spans, context injected by its outbound policy at every redirect hop:
    /// the extension is internal and gets the ids; a redirect to a third party would not).
    pub fn new(
        memory: Arc<MemoryStore>,
        extension_url: String,
        outbound: baker_otel_axum::OtelClientLayer,
    ) -> Self {
        // Fails only where `reqwest::Client::new()` would panic too (no TLS backend to set up).
        let http = outbound
            .reqwest_client(reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)))
            .expect("the reqwest client builds");
        Self {
            memory,
            http,
            extension_url,
        }
    }

    /// The memory store the tools search.
    pub fn memory(&self) -> &Arc<MemoryStore> {
        &self.memory
    }

    /// Runs the tool `call` asks for (`conversation_id` scopes memory searches).
    pub async fn run(&self, call: &ToolCall, conversation_id: &str) -> Result<String, ToolError> {
        match call.name.as_str() {
            "calculator" => self.calculator(call),
            "memory_search" => self.memory_search(call, conversation_id),
            "order_lookup" => self.order_lookup(call).await,
            other => {
                // The model chose this name (a prompt injection may make it a fresh UUID per
                // request): baker-otel-llm bounds it on the `baker.tool.duration` label, and
                // the span keeps it cut to 64 bytes.
                let span = tool_span!(cut(other, 64).to_owned(), call_id = &call.id);
                span.record_error("unknown_tool");
                Err(ToolError::UnknownTool(other.to_owned()))
            }
        }
    }

    /// `calculator {"expression": "…"}`.
    #[tool(
        name = "calculator",
        call_id = &call.id,
        description = "Evaluates an arithmetic expression"
    )]
    pub fn calculator(&self, call: &ToolCall) -> Result<String, ToolError> {
        let expression = arg(call, "expression");
        match calculator::eval(&expression) {
            Ok(v) => Ok(format!("{expression} = {v}")),
            Err(source) => Err(ToolError::Calculator { expression, source }),
        }
    }

    /// `memory_search {"query": "…"}`: the best note visible to the conversation.
    #[tool(
        name = "memory_search",
        call_id = &call.id,
        tool_type = "datastore",
        description = "Finds the best note visible to the conversation"
    )]
    pub fn memory_search(
        &self,
        call: &ToolCall,
        conversation_id: &str,
    ) -> Result<String, ToolError> {
        let query = arg(call, "query");
        let span = memory_span!(search, MEMORY_STORE);
        // Query text only when content capture allows input (off by default).
        span.record_query_text(&query);
        let hits = span.in_scope(|| self.memory.search(Some(conversation_id), &query, 3));
        span.record_result_count(hits.len() as u64);
        span.end();
        Ok(match hits.first() {
            Some(m) => format!("note: {}", m.text),
            None => "no matching notes".into(),
        })
    }

    /// `order_lookup {"customer": "…"}`: the order-system extension, over HTTP.
    #[tool(
        name = "order_lookup",
        call_id = &call.id,
        tool_type = "extension",
        description = "Looks up a customer's orders in the order system"
    )]
    pub async fn order_lookup(&self, call: &ToolCall) -> Result<String, ToolError> {
        let customer = arg(call, "customer");
        let url = format!("{}/extensions/order_lookup", self.extension_url);
        let body = serde_json::json!({ "customer": customer }).to_string();
        let req = self
            .http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        let res = self
            .http
            .send(req)
            .await
            .map_err(|e| ToolError::ExtensionUnreachable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(ToolError::ExtensionStatus(res.status().as_u16()));
        }
        let bytes = res
            .bytes()
            .await
            .map_err(|e| ToolError::ExtensionInvalid(e.to_string()))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ToolError::ExtensionInvalid(e.to_string()))?;
        Ok(format!(
            "customer {customer} has {} open orders, next delivery {}",
            v["open_orders"],
            v["next_delivery"].as_str().unwrap_or("?")
        ))
    }
}

/// `s` cut to at most `max` bytes on a char boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_model_chosen_tool_name_is_cut_on_a_char_boundary() {
        let long = "é".repeat(40); // 80 bytes
        assert_eq!(super::cut(&long, 64), "é".repeat(32));
        assert_eq!(super::cut(&format!("x{long}"), 64).len(), 63);
        assert_eq!(super::cut("weather", 64), "weather");
    }
}
