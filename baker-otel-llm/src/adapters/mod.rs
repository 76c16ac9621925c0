//! Zero-glue usage extraction for the LLM client crates services already use, behind cargo
//! features (all off by default):
//!
//! | feature | crate | request types ([`LlmRequest`]) | response / chunk types ([`ReportsUsage`](crate::ReportsUsage)) | error ([`ClassifyError`](crate::ClassifyError)) |
//! |---|---|---|---|---|
//! | `async-openai` | [async-openai](https://crates.io/crates/async-openai) 0.43 | `CreateChatCompletionRequest` | `CreateChatCompletionResponse`, `CreateChatCompletionStreamResponse` | `OpenAIError` |
//! | `ollama-rs` | [ollama-rs](https://crates.io/crates/ollama-rs) 0.3 | `ChatMessageRequest`, `GenerationRequest` | `ChatMessageResponse` (response and stream chunk), `GenerationResponse` | `OllamaError` |
//!
//! With them, `#[llm_call]` on a function that takes the client's request type and returns its
//! response type (`Result<_, ClientError>` too) records the response model and id, finish
//! reasons, input/output tokens with the cached and reasoning breakdown, the cost, and
//! `error.type` — without any impl in your code. The request gives the prompting role and
//! [`LlmRequest::model`], `temperature`, `max_tokens` and, when the
//! content policy captures input, `input_messages` in the GenAI JSON shape (redacted and
//! truncated by the policy); responses give `output_messages` likewise.
//!
//! Streams: `#[llm_call]` ends its span when the function returns, so a function returning a
//! stream would end the span before the first chunk. Open the span from the request with
//! [`request_span`] and wrap the client's stream in [`LlmStream::new`](crate::LlmStream::new)
//! instead; the chunk types implement `ReportsUsage` (the client streams yield
//! `Result<Chunk, _>`, which forwards), so no extractor is needed: time to first chunk, usage
//! from the final chunk, response id/model, finish reasons, and a stream dropped half-way ends
//! the span as cancelled with what was seen. [`LlmStream::classified`](crate::LlmStream::classified)
//! also turns an `Err` item into `error.type` (async-openai's `OpenAIError`; ollama-rs streams
//! yield `Err(())`, which carries nothing to classify). Streamed output text is not recorded as
//! `gen_ai.output.messages` (chunks hold deltas). See each module.
//!
//! Depend on the client crate yourself, at the version above, with the client features (TLS
//! backend, `stream`, …) you use: cargo unifies them with the adapter's.

use crate::content::ContentKind;
use crate::{LlmRequest, LlmSpan};

#[cfg(feature = "ollama-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "ollama-rs")))]
pub mod ollama;
#[cfg(feature = "async-openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-openai")))]
pub mod openai;

/// Starts the `chat {model}` span (CLIENT) of a call from its request, for the calls
/// `#[llm_call]` cannot wrap (streams): the request's model (`_OTHER` when it names none),
/// `provider`, prompting role, temperature and max tokens, and — when the content policy
/// captures input — its input messages (redacted and truncated by the policy). Pass the span to
/// [`LlmStream::new`](crate::LlmStream::new) with the client's stream; the span is a child of the
/// current span.
///
/// ```
/// use baker_otel_llm::{adapters::request_span, LlmRequest, LlmStream, Usage};
/// use futures_util::StreamExt;
///
/// struct Req;
/// impl LlmRequest for Req {
///     fn model(&self) -> Option<&str> { Some("gpt-4o-mini") }
///     fn temperature(&self) -> Option<f64> { Some(0.2) }
/// }
/// # futures_util::FutureExt::now_or_never(async {
/// let span = request_span("openai", &Req);             // chat gpt-4o-mini
/// let chunks = futures_util::stream::iter([Usage { input_tokens: 3, output_tokens: 1, ..Default::default() }]);
/// let mut stream = LlmStream::new(chunks, span);
/// while stream.next().await.is_some() {}
/// # });
/// ```
pub fn request_span<R: LlmRequest + ?Sized>(provider: &'static str, req: &R) -> LlmSpan {
    let span = crate::llm_span!(
        model = req.model().unwrap_or(crate::OTHER_ERROR).to_owned(),
        provider = provider,
        role = req.role().map(str::to_owned),
        temperature = req.temperature(),
        max_tokens = req.max_tokens()
    );
    if span.captures(ContentKind::Input) {
        if let Some(m) = req.input_messages() {
            span.record_input_messages(&m.to_string());
        }
    }
    span
}

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
