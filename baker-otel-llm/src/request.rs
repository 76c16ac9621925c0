//! [`LlmRequest`]: what a request type tells `#[llm_call]` about itself.

use std::sync::Arc;

/// Implemented by a request type (or anything passed to an `#[llm_call]` function) so that the
/// `chat` span records what the request says without glue at the call site. `#[llm_call]` looks
/// at every named parameter of the function; the first one implementing `LlmRequest` that
/// answers wins. Values given in the attribute (`role = …`) always take precedence.
///
/// The role is the *prompting role*: the role of the message that asks for this completion —
/// `user` for a question, `tool` when tool results are sent back, `system` for a system-only
/// prompt. It is recorded as `baker.llm.role` (GenAI v1.41 has no span attribute for it).
///
/// ```
/// use baker_otel_llm::LlmRequest;
///
/// struct Message { role: &'static str, content: String }
/// struct ChatRequest { messages: Vec<Message> }
///
/// impl LlmRequest for ChatRequest {
///     fn role(&self) -> Option<&str> {
///         self.messages.last().map(|m| m.role)
///     }
/// }
///
/// let req = ChatRequest { messages: vec![Message { role: "user", content: "hi".into() }] };
/// assert_eq!(req.role(), Some("user"));
/// assert_eq!((&&req).role(), Some("user")); // references forward
/// ```
pub trait LlmRequest {
    /// The prompting role, if the request knows it.
    fn role(&self) -> Option<&str> {
        None
    }
    /// `gen_ai.request.model`, when the request names it (an attribute's `model = …` wins).
    fn model(&self) -> Option<&str> {
        None
    }
    /// `gen_ai.request.temperature`.
    fn temperature(&self) -> Option<f64> {
        None
    }
    /// `gen_ai.request.max_tokens`.
    fn max_tokens(&self) -> Option<u64> {
        None
    }
    /// The request's messages in the GenAI input-messages JSON shape
    /// (`[{"role": "user", "parts": [{"type": "text", "content": "…"}]}]`), for
    /// `gen_ai.input.messages`. Only called when the content policy captures input, and what it
    /// returns goes through the policy's redaction and truncation before it is recorded.
    fn input_messages(&self) -> Option<serde_json::Value> {
        None
    }
}

/// References and smart pointers forward every method to the request they point to.
macro_rules! forward_llm_request {
    ($($ptr:ty),+) => {$(
        impl<T: LlmRequest + ?Sized> LlmRequest for $ptr {
            fn role(&self) -> Option<&str> {
                (**self).role()
            }
            fn model(&self) -> Option<&str> {
                (**self).model()
            }
            fn temperature(&self) -> Option<f64> {
                (**self).temperature()
            }
            fn max_tokens(&self) -> Option<u64> {
                (**self).max_tokens()
            }
            fn input_messages(&self) -> Option<serde_json::Value> {
                (**self).input_messages()
            }
        }
    )+};
}

forward_llm_request!(&T, &mut T, Box<T>, Arc<T>);
