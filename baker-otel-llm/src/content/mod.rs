//! Content capture policy: what message content may be recorded, redaction and truncation.
//!
//! Capture is **off** by default. Turn it on globally with
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`, or per category with
//! `BAKER_LLM_CAPTURE=input,output,system_instructions,tool_arguments,tool_results` (or `all`,
//! `none`), or with [`CapturePolicy`] on the builder (builder wins over env).
//! Captured values have secrets replaced by `[REDACTED]` and are cut to `max_bytes`
//! (`BAKER_LLM_CAPTURE_MAX_BYTES`, default 8192) with a `…[truncated N bytes]` marker.
//! Redaction only sees what can be shown (`max_bytes` plus a margin), so its cost is bounded
//! whatever the size of the input; see [`CapturePolicy::prepare`].
//!
//! ```
//! use baker_otel_llm::content::{CapturePolicy, ContentKind};
//! let policy = CapturePolicy::all().max_bytes(32);
//! let v = policy.prepare(ContentKind::Input, "key sk-ant-api03-abcdefghijklmnopqrstuvwx and a long tail of text").unwrap();
//! assert!(v.starts_with("key [REDACTED]"));
//! assert!(v.contains("[truncated"));
//! assert!(CapturePolicy::none().prepare(ContentKind::Input, "hi").is_none());
//! ```

mod card;
mod patterns;
mod policy;
mod prepare;
mod redactor;
mod window;

pub use card::{looks_like_card_number, luhn_valid};
pub use patterns::{
    is_sensitive_key, DEFAULT_SECRET_PATTERNS, SENSITIVE_KEYS, SENSITIVE_KEY_SUFFIXES,
};
pub use policy::{CapturePolicy, ContentKind};
pub use prepare::truncate;
pub use redactor::{Redactor, REDACTED};
