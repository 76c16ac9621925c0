//! Token usage and the traits that let return values report it.

/// Token counts of one LLM call, as the provider reported them.
///
/// `input_tokens` includes cached tokens (read and written), and `output_tokens` includes
/// reasoning tokens, as in the GenAI semantic conventions; the breakdown fields are informative.
///
/// ```
/// use baker_otel_llm::Usage;
/// let u = Usage { input_tokens: 812, output_tokens: 97, ..Default::default() };
/// assert_eq!(u.total_tokens(), 909);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input (prompt) tokens, cached ones included.
    pub input_tokens: u64,
    /// Output (completion) tokens, reasoning ones included.
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cache_read_input_tokens: u64,
    /// Input tokens written to the provider's prompt cache.
    pub cache_creation_input_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_output_tokens: u64,
}

impl Usage {
    /// Input plus output tokens.
    ///
    /// ```
    /// assert_eq!(baker_otel_llm::Usage { input_tokens: 1, output_tokens: 2, ..Default::default() }.total_tokens(), 3);
    /// ```
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// Field-wise saturating sum.
    ///
    /// ```
    /// use baker_otel_llm::Usage;
    /// let a = Usage { input_tokens: 1, ..Default::default() };
    /// assert_eq!(a.add(&a).input_tokens, 2);
    /// ```
    #[must_use]
    pub fn add(&self, o: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(o.input_tokens),
            output_tokens: self.output_tokens.saturating_add(o.output_tokens),
            cache_read_input_tokens: self
                .cache_read_input_tokens
                .saturating_add(o.cache_read_input_tokens),
            cache_creation_input_tokens: self
                .cache_creation_input_tokens
                .saturating_add(o.cache_creation_input_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_add(o.reasoning_output_tokens),
        }
    }
}

/// Implemented by response types so that `#[llm_call]` (and [`LlmSpan::record_response`](crate::LlmSpan::record_response))
/// record usage and response metadata automatically. Only [`usage`](Self::usage) is required.
///
/// Return types that do not implement it still compile with `#[llm_call]`; then record usage
/// by hand on the span handle. `Result<T, E>`, `Option<T>`, `Box<T>` and `&T` implement it when `T` does.
///
/// ```
/// use baker_otel_llm::{ReportsUsage, Usage};
/// struct ChatResponse { id: String, tokens_in: u64, tokens_out: u64 }
/// impl ReportsUsage for ChatResponse {
///     fn usage(&self) -> Option<Usage> {
///         Some(Usage { input_tokens: self.tokens_in, output_tokens: self.tokens_out, ..Default::default() })
///     }
///     fn response_id(&self) -> Option<&str> { Some(&self.id) }
/// }
/// let r: Result<ChatResponse, ()> = Ok(ChatResponse { id: "r1".into(), tokens_in: 3, tokens_out: 4 });
/// assert_eq!(r.usage().unwrap().output_tokens, 4);
/// ```
pub trait ReportsUsage {
    /// Token usage, when known.
    fn usage(&self) -> Option<Usage>;
    /// `gen_ai.response.id`.
    fn response_id(&self) -> Option<&str> {
        None
    }
    /// `gen_ai.response.model`.
    fn response_model(&self) -> Option<&str> {
        None
    }
    /// `gen_ai.response.finish_reasons`.
    fn finish_reasons(&self) -> Vec<&str> {
        Vec::new()
    }
    /// The response's messages in the GenAI output-messages JSON shape
    /// (`[{"role": "assistant", "parts": [{"type": "text", "content": "…"}], "finish_reason": "stop"}]`),
    /// for `gen_ai.output.messages`. Only called when the content policy captures output; what it
    /// returns goes through the policy's redaction and truncation before it is recorded.
    fn output_messages(&self) -> Option<serde_json::Value> {
        None
    }
}

impl ReportsUsage for Usage {
    fn usage(&self) -> Option<Usage> {
        Some(*self)
    }
}

impl<T: ReportsUsage + ?Sized> ReportsUsage for &T {
    fn usage(&self) -> Option<Usage> {
        (**self).usage()
    }
    fn response_id(&self) -> Option<&str> {
        (**self).response_id()
    }
    fn response_model(&self) -> Option<&str> {
        (**self).response_model()
    }
    fn finish_reasons(&self) -> Vec<&str> {
        (**self).finish_reasons()
    }
    fn output_messages(&self) -> Option<serde_json::Value> {
        (**self).output_messages()
    }
}

impl<T: ReportsUsage + ?Sized> ReportsUsage for Box<T> {
    fn usage(&self) -> Option<Usage> {
        (**self).usage()
    }
    fn response_id(&self) -> Option<&str> {
        (**self).response_id()
    }
    fn response_model(&self) -> Option<&str> {
        (**self).response_model()
    }
    fn finish_reasons(&self) -> Vec<&str> {
        (**self).finish_reasons()
    }
    fn output_messages(&self) -> Option<serde_json::Value> {
        (**self).output_messages()
    }
}

impl<T: ReportsUsage> ReportsUsage for Option<T> {
    fn usage(&self) -> Option<Usage> {
        self.as_ref().and_then(T::usage)
    }
    fn response_id(&self) -> Option<&str> {
        self.as_ref().and_then(T::response_id)
    }
    fn response_model(&self) -> Option<&str> {
        self.as_ref().and_then(T::response_model)
    }
    fn finish_reasons(&self) -> Vec<&str> {
        self.as_ref().map(T::finish_reasons).unwrap_or_default()
    }
    fn output_messages(&self) -> Option<serde_json::Value> {
        self.as_ref().and_then(T::output_messages)
    }
}

impl<T: ReportsUsage, E> ReportsUsage for Result<T, E> {
    fn usage(&self) -> Option<Usage> {
        self.as_ref().ok().and_then(T::usage)
    }
    fn response_id(&self) -> Option<&str> {
        self.as_ref().ok().and_then(T::response_id)
    }
    fn response_model(&self) -> Option<&str> {
        self.as_ref().ok().and_then(T::response_model)
    }
    fn finish_reasons(&self) -> Vec<&str> {
        self.as_ref().map(T::finish_reasons).unwrap_or_default()
    }
    fn output_messages(&self) -> Option<serde_json::Value> {
        self.as_ref().ok().and_then(T::output_messages)
    }
}

/// Gives an error a low-cardinality `error.type` (e.g. `rate_limited`, `timeout`). Optional:
/// without it `#[llm_call]`/`#[tool]` use the error's type name (`LlmError`).
///
/// ```
/// use baker_otel_llm::ClassifyError;
/// enum LlmError { RateLimited, Other(String) }
/// impl ClassifyError for LlmError {
///     fn error_type(&self) -> &str {
///         match self { LlmError::RateLimited => "rate_limited", LlmError::Other(_) => "_OTHER" }
///     }
/// }
/// assert_eq!(LlmError::RateLimited.error_type(), "rate_limited");
/// ```
pub trait ClassifyError {
    /// The `error.type` value.
    fn error_type(&self) -> &str;
}

/// `error.type` fallback when nothing better is known.
pub const OTHER_ERROR: &str = "_OTHER";

/// Short name of `E` (`my_crate::errors::LlmError<T>` → `LlmError`), or `_OTHER`.
pub(crate) fn short_type_name<E: ?Sized>() -> &'static str {
    let full = std::any::type_name::<E>();
    let base = full.split('<').next().unwrap_or(full);
    match base.rsplit("::").next() {
        Some(s) if !s.is_empty() => s,
        _ => OTHER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn short_names() {
        struct LlmError;
        assert_eq!(short_type_name::<LlmError>(), "LlmError");
        assert_eq!(short_type_name::<Vec<u8>>(), "Vec");
        assert_eq!(short_type_name::<String>(), "String");
    }
}
