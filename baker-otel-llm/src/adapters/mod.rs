//! Zero-glue usage extraction for the LLM client crates services already use, behind cargo
//! features (all off by default):
//!
//! | feature | crate | request types ([`LlmRequest`](crate::LlmRequest)) | response / chunk types ([`ReportsUsage`](crate::ReportsUsage)) | error ([`ClassifyError`](crate::ClassifyError)) |
//! |---|---|---|---|---|
//! | `async-openai` | [async-openai](https://crates.io/crates/async-openai) 0.43 | `CreateChatCompletionRequest` | `CreateChatCompletionResponse`, `CreateChatCompletionStreamResponse` | `OpenAIError` |
//! | `ollama-rs` | [ollama-rs](https://crates.io/crates/ollama-rs) 0.3 | `ChatMessageRequest`, `GenerationRequest` | `ChatMessageResponse` (response and stream chunk), `GenerationResponse` | `OllamaError` |
//!
//! With them, `#[llm_call]` on a function that takes the client's request type and returns its
//! response type (`Result<_, ClientError>` too) records the response model and id, finish
//! reasons, input/output tokens with the cached and reasoning breakdown, the cost, and
//! `error.type` — without any impl in your code. The request gives the prompting role and
//! [`LlmRequest::model`](crate::LlmRequest::model), `temperature`, `max_tokens` and, when the
//! content policy captures input, `input_messages` in the GenAI JSON shape (redacted and
//! truncated by the policy); responses give `output_messages` likewise.
//!
//! Streams: `#[llm_call]` ends its span when the function returns, so a function returning a
//! stream would end the span before the first chunk. Wrap the client's stream in
//! [`LlmStream::new`](crate::LlmStream::new) instead; the chunk types implement `ReportsUsage`
//! (the client streams yield `Result<Chunk, _>`, which forwards), so no extractor is needed:
//! time to first chunk, usage from the final chunk, response id/model, finish reasons, and a
//! stream dropped half-way ends the span as cancelled with what was seen. See each module.
//!
//! Depend on the client crate yourself, at the version above, with the client features (TLS
//! backend, `stream`, …) you use: cargo unifies them with the adapter's.

#[cfg(feature = "ollama-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "ollama-rs")))]
pub mod ollama;
#[cfg(feature = "async-openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-openai")))]
pub mod openai;

#[cfg(any(feature = "async-openai", feature = "ollama-rs"))]
pub(crate) mod json {
    //! Helpers building the GenAI message JSON shape.
    use serde_json::{json, Value};

    /// A `text` part.
    pub(crate) fn text(content: &str) -> Value {
        json!({ "type": "text", "content": content })
    }

    /// A `tool_call` part; `arguments` is parsed as JSON when it is JSON, else kept as a string.
    pub(crate) fn tool_call(id: Option<&str>, name: &str, arguments: Value) -> Value {
        let arguments = match arguments {
            Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            v => v,
        };
        json!({ "type": "tool_call", "id": id, "name": name, "arguments": arguments })
    }

    /// A `tool_call_response` part.
    pub(crate) fn tool_result(id: Option<&str>, result: &str) -> Value {
        json!({ "type": "tool_call_response", "id": id, "result": result })
    }

    /// A `reasoning` part.
    #[cfg(feature = "ollama-rs")]
    pub(crate) fn reasoning(content: &str) -> Value {
        json!({ "type": "reasoning", "content": content })
    }

    /// One message.
    pub(crate) fn message(role: &str, parts: Vec<Value>, finish_reason: Option<&str>) -> Value {
        let mut m = json!({ "role": role, "parts": parts });
        if let (Some(r), Some(o)) = (finish_reason, m.as_object_mut()) {
            o.insert("finish_reason".into(), Value::String(r.to_owned()));
        }
        m
    }

    /// A sampling parameter given as `f32`, as the decimal number it was written as
    /// (`0.7f32` → `0.7`, not `0.699999988079071`).
    pub(crate) fn f32_param(v: f32) -> Option<f64> {
        v.is_finite().then(|| v.to_string().parse().ok()).flatten()
    }
}
