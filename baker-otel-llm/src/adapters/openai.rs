//! [async-openai](https://crates.io/crates/async-openai) 0.43 chat completions (feature
//! `async-openai`).
//!
//! * [`CreateChatCompletionRequest`]: [`LlmRequest`] — role of the last message, `model`,
//!   `temperature`, `max_completion_tokens` (else the deprecated `max_tokens`), and the messages
//!   as `gen_ai.input.messages` JSON (developer messages as `system`, tool calls as `tool_call`
//!   parts, tool messages as `tool_call_response` parts, non-text parts by type only).
//! * [`CreateChatCompletionResponse`] and the stream chunk [`CreateChatCompletionStreamResponse`]:
//!   [`ReportsUsage`] — `usage.prompt_tokens` (cached included) and `completion_tokens`
//!   (reasoning included), `prompt_tokens_details.cached_tokens` /`cache_write_tokens`,
//!   `completion_tokens_details.reasoning_tokens`, `id`, `model`, each choice's
//!   `finish_reason`; the response's choices as `gen_ai.output.messages`. Stream chunks carry
//!   usage only in the final chunk when the request sets `stream_options.include_usage`.
//! * [`OpenAIError`]: [`ClassifyError`] — an API error's `code` (e.g. `rate_limit_exceeded`),
//!   else its `type`, else the HTTP status; `timeout`, `http_error`, `invalid_response`,
//!   `stream_error`, `invalid_argument`, `file_error` for the client's own failures.
//!
//! ```
//! use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
//! use baker_otel_llm::{llm_call, LlmRequest, ReportsUsage};
//!
//! // Stands in for `client.chat().create(req).await` (no network in this example).
//! #[llm_call(provider = "openai", model = req.model.clone())]
//! async fn ask(req: CreateChatCompletionRequest) -> Result<CreateChatCompletionResponse, async_openai::error::OpenAIError> {
//!     Ok(serde_json::from_str(r#"{"id": "chatcmpl-1", "object": "chat.completion", "created": 1741569952,
//!         "model": "gpt-4.1-2025-04-14",
//!         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
//!         "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
//!                   "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}}"#).unwrap())
//! }
//!
//! let req: CreateChatCompletionRequest = serde_json::from_str(r#"{"model": "gpt-4.1",
//!     "messages": [{"role": "user", "content": "Hello"}], "temperature": 0.2}"#).unwrap();
//! assert_eq!((req.model(), req.temperature(), req.role()), (Some("gpt-4.1"), Some(0.2), Some("user")));
//! let resp = futures_util::FutureExt::now_or_never(ask(req)).unwrap().unwrap();
//! assert_eq!(resp.usage().unwrap().output_tokens, 10);  // what `#[llm_call]` recorded
//! assert_eq!(resp.finish_reasons(), ["stop"]);
//! ```
//!
//! Streaming, with `stream_options.include_usage` set on the request:
//! [`request_span`](super::request_span) opens the span from the request,
//! [`LlmStream::classified`](crate::LlmStream::classified) reads the chunks (and an `Err` item's
//! `error.type`; [`LlmStream::new`](crate::LlmStream::new) works too, without that).
//!
//! ```
//! use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionStreamResponse};
//! use baker_otel_llm::{adapters::request_span, LlmStream};
//! use futures_util::StreamExt;
//!
//! # futures_util::FutureExt::now_or_never(async {
//! let req: CreateChatCompletionRequest = serde_json::from_str(r#"{"model": "gpt-4o-mini",
//!     "messages": [{"role": "user", "content": "Hello"}], "stream": true, "stream_options": {"include_usage": true}}"#).unwrap();
//! let span = request_span("openai", &req);
//! // Stands in for `client.chat().create_stream(req).await?` (items: `Result<chunk, OpenAIError>`).
//! let chunks: Vec<Result<CreateChatCompletionStreamResponse, async_openai::error::OpenAIError>> = [
//!     r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
//!     r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
//!     r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#,
//! ].iter().map(|c| Ok(serde_json::from_str(c).unwrap())).collect();
//! let mut stream = LlmStream::classified(futures_util::stream::iter(chunks), span);
//! let mut text = String::new();
//! while let Some(Ok(chunk)) = stream.next().await {
//!     if let Some(c) = chunk.choices.first().and_then(|c| c.delta.content.as_deref()) {
//!         text.push_str(c);
//!     }
//! }
//! assert_eq!(text, "Hi"); // span ended with TTFT, 9/2 tokens, id c1, finish reason stop
//! # });
//! ```

use crate::adapters::json;
use crate::{ClassifyError, LlmRequest, ReportsUsage, Usage};
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestMessage, CompletionUsage,
    CreateChatCompletionRequest, CreateChatCompletionResponse, CreateChatCompletionStreamResponse,
    FinishReason,
};
use serde_json::Value;

fn role_of(m: &ChatCompletionRequestMessage) -> &'static str {
    match m {
        ChatCompletionRequestMessage::Developer(_) => "developer",
        ChatCompletionRequestMessage::System(_) => "system",
        ChatCompletionRequestMessage::User(_) => "user",
        ChatCompletionRequestMessage::Assistant(_) => "assistant",
        ChatCompletionRequestMessage::Tool(_) => "tool",
        ChatCompletionRequestMessage::Function(_) => "function",
    }
}

fn finish_reason(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::FunctionCall => "function_call",
    }
}

fn usage(u: &CompletionUsage) -> Usage {
    let p = u.prompt_tokens_details.as_ref();
    let c = u.completion_tokens_details.as_ref();
    Usage {
        input_tokens: u64::from(u.prompt_tokens),
        output_tokens: u64::from(u.completion_tokens),
        cache_read_input_tokens: p.and_then(|p| p.cached_tokens).map_or(0, u64::from),
        cache_creation_input_tokens: p
            .and_then(|p| p.cache_write_tokens)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0),
        reasoning_output_tokens: c.and_then(|c| c.reasoning_tokens).map_or(0, u64::from),
    }
}

/// Text of a serialized message `content` (a string, or an array of parts).
fn content_parts(content: Option<&Value>, parts: &mut Vec<Value>) {
    match content {
        Some(Value::String(s)) => parts.push(json::text(s)),
        Some(Value::Array(items)) => {
            for item in items {
                let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
                match (kind, item.get("text").or_else(|| item.get("refusal"))) {
                    ("text" | "refusal", Some(Value::String(t))) => parts.push(json::text(t)),
                    // Images, audio, files: the part's type only, never its payload.
                    _ => parts.push(serde_json::json!({ "type": kind })),
                }
            }
        }
        _ => {}
    }
}

fn input_message(m: &ChatCompletionRequestMessage) -> Option<Value> {
    let v = serde_json::to_value(m).ok()?;
    let mut parts = Vec::new();
    let role = match m {
        ChatCompletionRequestMessage::Tool(_) | ChatCompletionRequestMessage::Function(_) => {
            let mut text = Vec::new();
            content_parts(v.get("content"), &mut text);
            let result: Vec<&str> = text
                .iter()
                .filter_map(|p| p.get("content").and_then(Value::as_str))
                .collect();
            let id = v
                .get("tool_call_id")
                .or_else(|| v.get("name"))
                .and_then(Value::as_str);
            parts.push(json::tool_result(id, &result.concat()));
            "tool"
        }
        ChatCompletionRequestMessage::Assistant(_) => {
            content_parts(v.get("content"), &mut parts);
            for call in v
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let f = call.get("function").or_else(|| call.get("custom_tool"));
                let name = f.and_then(|f| f.get("name")).and_then(Value::as_str);
                let args = f
                    .and_then(|f| f.get("arguments").or_else(|| f.get("input")))
                    .cloned()
                    .unwrap_or(Value::Null);
                parts.push(json::tool_call(
                    call.get("id").and_then(Value::as_str),
                    name.unwrap_or(""),
                    args,
                ));
            }
            "assistant"
        }
        ChatCompletionRequestMessage::Developer(_) | ChatCompletionRequestMessage::System(_) => {
            content_parts(v.get("content"), &mut parts);
            "system"
        }
        ChatCompletionRequestMessage::User(_) => {
            content_parts(v.get("content"), &mut parts);
            "user"
        }
    };
    Some(json::message(role, parts, None))
}

impl LlmRequest for CreateChatCompletionRequest {
    fn role(&self) -> Option<&str> {
        self.messages.last().map(role_of)
    }
    fn model(&self) -> Option<&str> {
        Some(&self.model)
            .filter(|m| !m.is_empty())
            .map(String::as_str)
    }
    fn temperature(&self) -> Option<f64> {
        self.temperature.and_then(json::f32_param)
    }
    fn max_tokens(&self) -> Option<u64> {
        #[allow(deprecated)]
        let legacy = self.max_tokens;
        self.max_completion_tokens.or(legacy).map(u64::from)
    }
    fn input_messages(&self) -> Option<Value> {
        Some(Value::Array(
            self.messages.iter().filter_map(input_message).collect(),
        ))
    }
}

impl ReportsUsage for CreateChatCompletionResponse {
    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(usage)
    }
    fn response_id(&self) -> Option<&str> {
        Some(self.id.as_str()).filter(|s| !s.is_empty())
    }
    fn response_model(&self) -> Option<&str> {
        Some(self.model.as_str()).filter(|s| !s.is_empty())
    }
    fn finish_reasons(&self) -> Vec<&str> {
        self.choices
            .iter()
            .filter_map(|c| c.finish_reason.map(finish_reason))
            .collect()
    }
    fn output_messages(&self) -> Option<Value> {
        let msgs = self
            .choices
            .iter()
            .map(|c| {
                let mut parts = Vec::new();
                if let Some(t) = &c.message.content {
                    parts.push(json::text(t));
                }
                if let Some(t) = &c.message.refusal {
                    parts.push(json::text(t));
                }
                for call in c.message.tool_calls.iter().flatten() {
                    parts.push(match call {
                        ChatCompletionMessageToolCalls::Function(f) => json::tool_call(
                            Some(&f.id),
                            &f.function.name,
                            Value::String(f.function.arguments.clone()),
                        ),
                        ChatCompletionMessageToolCalls::Custom(f) => json::tool_call(
                            Some(&f.id),
                            &f.custom_tool.name,
                            Value::String(f.custom_tool.input.clone()),
                        ),
                    });
                }
                json::message("assistant", parts, c.finish_reason.map(finish_reason))
            })
            .collect();
        Some(Value::Array(msgs))
    }
}

/// A stream chunk: usage is present only in the final chunk (`stream_options.include_usage`);
/// `output_messages` is `None` (a chunk holds a delta, not a message).
impl ReportsUsage for CreateChatCompletionStreamResponse {
    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(usage)
    }
    fn response_id(&self) -> Option<&str> {
        Some(self.id.as_str()).filter(|s| !s.is_empty())
    }
    fn response_model(&self) -> Option<&str> {
        Some(self.model.as_str()).filter(|s| !s.is_empty())
    }
    fn finish_reasons(&self) -> Vec<&str> {
        self.choices
            .iter()
            .filter_map(|c| c.finish_reason.map(finish_reason))
            .collect()
    }
}

impl ClassifyError for OpenAIError {
    fn error_type(&self) -> &str {
        #[allow(unreachable_patterns)] // variants depend on async-openai's features
        match self {
            OpenAIError::ApiError(e) => e
                .api_error
                .code
                .as_deref()
                .or(e.api_error.r#type.as_deref())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| e.status_code.as_str()),
            OpenAIError::Reqwest(e) if e.is_timeout() => "timeout",
            OpenAIError::Reqwest(_) => "http_error",
            OpenAIError::JSONDeserialize(..) => "invalid_response",
            OpenAIError::StreamError(_) => "stream_error",
            OpenAIError::InvalidArgument(_) => "invalid_argument",
            OpenAIError::FileSaveError(_) | OpenAIError::FileReadError(_) => "file_error",
            _ => crate::OTHER_ERROR,
        }
    }
}
