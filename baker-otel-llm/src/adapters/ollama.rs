//! [ollama-rs](https://crates.io/crates/ollama-rs) 0.3 chat and generation (feature
//! `ollama-rs`).
//!
//! * [`ChatMessageRequest`] and [`GenerationRequest`]: [`LlmRequest`] — role of the last
//!   message (`user` for a generation), `model`, `options.temperature`, `options.num_predict`
//!   (when positive) as max tokens, and the messages (a generation's `system` and `prompt`) as
//!   `gen_ai.input.messages` JSON (tool calls as `tool_call` parts, tool messages as
//!   `tool_call_response` parts, `thinking` as `reasoning` parts; images are not recorded).
//! * [`ChatMessageResponse`] (the response, and each chunk of a chat stream) and
//!   [`GenerationResponse`]: [`ReportsUsage`] — `prompt_eval_count` as input tokens and
//!   `eval_count` as output tokens (present on the final, `done` message only), `model`; the
//!   message as `gen_ai.output.messages`. Ollama reports no response id and no cached or
//!   reasoning token counts, and ollama-rs 0.3 does not deserialize Ollama's `done_reason`, so
//!   no finish reasons are recorded. Local models have no price in the genai-prices database:
//!   such calls count in `baker.llm.unpriced_calls` unless you add a
//!   [`PriceOverride`](crate::PriceOverride).
//! * [`OllamaError`]: [`ClassifyError`] — `timeout`, `http_error`, `api_error` (a non-success
//!   HTTP status), `ollama_error`, `invalid_response`, `tool_call_error`.
//!
//! ```
//! use baker_otel_llm::{llm_call, LlmRequest, ReportsUsage};
//! use ollama_rs::generation::chat::{request::ChatMessageRequest, ChatMessage, ChatMessageResponse};
//! use ollama_rs::error::OllamaError;
//!
//! // Stands in for `ollama.send_chat_messages(req).await` (no network in this example).
//! #[llm_call(provider = "ollama", model = req.model_name.clone())]
//! async fn ask(req: ChatMessageRequest) -> Result<ChatMessageResponse, OllamaError> {
//!     Ok(serde_json::from_str(r#"{"model": "llama3.2", "created_at": "2023-12-12T14:13:43.416799Z",
//!         "message": {"role": "assistant", "content": "Hello! How are you today?"}, "done": true,
//!         "total_duration": 5191566416, "load_duration": 2154458, "prompt_eval_count": 26,
//!         "prompt_eval_duration": 383809000, "eval_count": 298, "eval_duration": 4799921000}"#)?)
//! }
//!
//! let req = ChatMessageRequest::new("llama3.2".into(), vec![ChatMessage::user("why is the sky blue?".into())]);
//! assert_eq!((req.model(), req.role()), (Some("llama3.2"), Some("user")));
//! let resp = futures_util::FutureExt::now_or_never(ask(req)).unwrap().unwrap();
//! let usage = resp.usage().unwrap();                    // what `#[llm_call]` recorded
//! assert_eq!((usage.input_tokens, usage.output_tokens), (26, 298));
//! ```
//!
//! Streaming (ollama-rs `stream` feature): `send_chat_messages_stream` yields
//! `Result<ChatMessageResponse, ()>`; open the span from the request with
//! [`request_span`](super::request_span) and wrap the stream in
//! [`LlmStream::new`](crate::LlmStream::new):
//!
//! ```
//! use baker_otel_llm::{adapters::request_span, LlmStream};
//! use futures_util::StreamExt;
//! use ollama_rs::generation::chat::{request::ChatMessageRequest, ChatMessage, ChatMessageResponse};
//!
//! # futures_util::FutureExt::now_or_never(async {
//! let req = ChatMessageRequest::new("llama3.2".into(), vec![ChatMessage::user("why is the sky blue?".into())]);
//! let span = request_span("ollama", &req);
//! // Stands in for `ollama.send_chat_messages_stream(req).await?`.
//! let chunks: Vec<Result<ChatMessageResponse, ()>> = [
//!     r#"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The"},"done":false}"#,
//!     r#"{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,
//!         "total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}"#,
//! ].iter().map(|c| Ok(serde_json::from_str(c).unwrap())).collect();
//! let mut stream = LlmStream::new(futures_util::stream::iter(chunks), span);
//! while let Some(chunk) = stream.next().await { let _ = chunk; } // 26 in / 282 out, TTFT
//! # });
//! ```

use crate::adapters::json;
use crate::{ClassifyError, LlmRequest, ReportsUsage, Usage};
use ollama_rs::error::OllamaError;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::{ChatMessage, ChatMessageResponse, MessageRole};
use ollama_rs::generation::completion::request::GenerationRequest;
use ollama_rs::generation::completion::GenerationResponse;
use ollama_rs::models::ModelOptions;
use serde_json::Value;

fn role(r: &MessageRole) -> &'static str {
    match r {
        MessageRole::User => "user",
        MessageRole::Assistant => "assistant",
        MessageRole::System => "system",
        MessageRole::Tool => "tool",
    }
}

/// `ModelOptions` keeps its fields private; read them from its serialized form.
fn option(options: Option<&ModelOptions>, key: &str) -> Option<Value> {
    let v = serde_json::to_value(options?).ok()?;
    v.get(key).cloned()
}

fn temperature(options: Option<&ModelOptions>) -> Option<f64> {
    option(options, "temperature")
        .and_then(|v| v.as_f64())
        .and_then(|t| json::f32_param(t as f32))
}

fn num_predict(options: Option<&ModelOptions>) -> Option<u64> {
    option(options, "num_predict")
        .and_then(|v| v.as_i64())
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
}

fn message(m: &ChatMessage, finish_reason: Option<&str>) -> Value {
    let mut parts = Vec::new();
    if let Some(t) = m.thinking.as_deref().filter(|t| !t.is_empty()) {
        parts.push(json::reasoning(t));
    }
    if m.role == MessageRole::Tool {
        parts.push(json::tool_result(None, &m.content));
    } else if !m.content.is_empty() {
        parts.push(json::text(&m.content));
    }
    for call in &m.tool_calls {
        parts.push(json::tool_call(
            None,
            &call.function.name,
            call.function.arguments.clone(),
        ));
    }
    json::message(role(&m.role), parts, finish_reason)
}

impl LlmRequest for ChatMessageRequest {
    fn role(&self) -> Option<&str> {
        self.messages.last().map(|m| role(&m.role))
    }
    fn model(&self) -> Option<&str> {
        Some(self.model_name.as_str()).filter(|m| !m.is_empty())
    }
    fn temperature(&self) -> Option<f64> {
        temperature(self.options.as_ref())
    }
    fn max_tokens(&self) -> Option<u64> {
        num_predict(self.options.as_ref())
    }
    fn input_messages(&self) -> Option<Value> {
        Some(Value::Array(
            self.messages.iter().map(|m| message(m, None)).collect(),
        ))
    }
}

impl LlmRequest for GenerationRequest<'_> {
    fn role(&self) -> Option<&str> {
        Some("user")
    }
    fn model(&self) -> Option<&str> {
        Some(self.model_name.as_str()).filter(|m| !m.is_empty())
    }
    fn temperature(&self) -> Option<f64> {
        temperature(self.options.as_ref())
    }
    fn max_tokens(&self) -> Option<u64> {
        num_predict(self.options.as_ref())
    }
    fn input_messages(&self) -> Option<Value> {
        let mut msgs = Vec::new();
        if let Some(s) = &self.system {
            msgs.push(json::message("system", vec![json::text(s)], None));
        }
        msgs.push(json::message("user", vec![json::text(&self.prompt)], None));
        Some(Value::Array(msgs))
    }
}

/// The response of `send_chat_messages`, and each chunk of `send_chat_messages_stream` (usage
/// on the final, `done` chunk only).
impl ReportsUsage for ChatMessageResponse {
    fn usage(&self) -> Option<Usage> {
        self.final_data.as_ref().map(|f| Usage {
            input_tokens: f.prompt_eval_count,
            output_tokens: f.eval_count,
            ..Default::default()
        })
    }
    fn response_model(&self) -> Option<&str> {
        Some(self.model.as_str()).filter(|m| !m.is_empty())
    }
    fn output_messages(&self) -> Option<Value> {
        Some(Value::Array(vec![message(&self.message, None)]))
    }
}

impl ReportsUsage for GenerationResponse {
    fn usage(&self) -> Option<Usage> {
        match (self.prompt_eval_count, self.eval_count) {
            (None, None) => None,
            (i, o) => Some(Usage {
                input_tokens: i.unwrap_or(0),
                output_tokens: o.unwrap_or(0),
                ..Default::default()
            }),
        }
    }
    fn response_model(&self) -> Option<&str> {
        Some(self.model.as_str()).filter(|m| !m.is_empty())
    }
    fn output_messages(&self) -> Option<Value> {
        let mut parts = Vec::new();
        if let Some(t) = self.thinking.as_deref().filter(|t| !t.is_empty()) {
            parts.push(json::reasoning(t));
        }
        parts.push(json::text(&self.response));
        Some(Value::Array(vec![json::message("assistant", parts, None)]))
    }
}

impl ClassifyError for OllamaError {
    fn error_type(&self) -> &str {
        match self {
            OllamaError::ReqwestError(e) if e.is_timeout() => "timeout",
            OllamaError::ReqwestError(_) => "http_error",
            OllamaError::Other(_) => "api_error",
            OllamaError::InternalError(_) => "ollama_error",
            OllamaError::JsonError(_) => "invalid_response",
            OllamaError::ToolCallError(_) => "tool_call_error",
        }
    }
}
