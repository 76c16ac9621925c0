//! Content capture policy: what message content may be recorded, redaction and truncation.
//!
//! Capture is **off** by default. Turn it on globally with
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`, or per category with
//! `BAKER_LLM_CAPTURE=input,output,system_instructions,tool_arguments,tool_results` (or `all`,
//! `none`), or with [`CapturePolicy`] on the builder (builder wins over env).
//! Captured values have secrets replaced by `[REDACTED]` and are cut to `max_bytes`
//! (`BAKER_LLM_CAPTURE_MAX_BYTES`, default 8192) with a `…[truncated N bytes]` marker.
//!
//! ```
//! use baker_otel_llm::content::{CapturePolicy, ContentKind};
//! let policy = CapturePolicy::all().max_bytes(32);
//! let v = policy.prepare(ContentKind::Input, "key sk-ant-api03-abcdefghijklmnopqrstuvwx and a long tail of text").unwrap();
//! assert!(v.starts_with("key [REDACTED]"));
//! assert!(v.contains("[truncated"));
//! assert!(CapturePolicy::none().prepare(ContentKind::Input, "hi").is_none());
//! ```

use baker_otel::config::EnvSource;
use regex::Regex;
use std::borrow::Cow;
use std::sync::Arc;

/// A category of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentKind {
    /// `gen_ai.input.messages`.
    Input,
    /// `gen_ai.output.messages`.
    Output,
    /// `gen_ai.system_instructions`.
    SystemInstructions,
    /// `gen_ai.tool.call.arguments`.
    ToolArguments,
    /// `gen_ai.tool.call.result`.
    ToolResults,
}

impl ContentKind {
    /// Name used in `BAKER_LLM_CAPTURE`.
    ///
    /// ```
    /// assert_eq!(baker_otel_llm::content::ContentKind::ToolResults.as_str(), "tool_results");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
            Self::SystemInstructions => "system_instructions",
            Self::ToolArguments => "tool_arguments",
            Self::ToolResults => "tool_results",
        }
    }
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
    const ALL: [ContentKind; 5] = [
        Self::Input,
        Self::Output,
        Self::SystemInstructions,
        Self::ToolArguments,
        Self::ToolResults,
    ];
}

/// Default secret patterns (API keys, bearer tokens, JWTs, `key=value` credentials).
pub const DEFAULT_SECRET_PATTERNS: &[&str] = &[
    r"sk-ant-[A-Za-z0-9_\-]{8,}",
    r"sk-(?:proj-|live-|test-)?[A-Za-z0-9_\-]{16,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[baprs]-[A-Za-z0-9\-]{10,}",
    r"\bAIza[0-9A-Za-z_\-]{20,}",
    r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=~+/]{8,}",
    r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
    r#"(?i)\b(?:api[_-]?key|apikey|password|passwd|secret|token|access[_-]?key)\s*["']?\s*[:=]\s*["']?[^\s"',;&]+"#,
];

/// Replaces secrets with `[REDACTED]`. Cheap to clone.
///
/// ```
/// use baker_otel_llm::content::Redactor;
/// let r = Redactor::default().with_pattern(r"ACME-\d{6}").unwrap();
/// assert_eq!(r.redact("id ACME-123456 ok"), "id [REDACTED] ok");
/// assert_eq!(r.redact("password=hunter2"), "[REDACTED]");
/// ```
#[derive(Debug, Clone)]
pub struct Redactor {
    re: Arc<Regex>,
    patterns: Arc<Vec<String>>,
}

/// Marker that replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

impl Default for Redactor {
    fn default() -> Self {
        let patterns: Vec<String> = DEFAULT_SECRET_PATTERNS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let re = Regex::new(&join(&patterns))
            .unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()));
        Self {
            re: Arc::new(re),
            patterns: Arc::new(patterns),
        }
    }
}

fn join(patterns: &[String]) -> String {
    patterns
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|")
}

impl Redactor {
    /// Adds a pattern (regex syntax of the `regex` crate).
    pub fn with_pattern(&self, pattern: &str) -> Result<Self, regex::Error> {
        let mut patterns = (*self.patterns).clone();
        patterns.push(pattern.to_owned());
        let re = Regex::new(&join(&patterns))?;
        Ok(Self {
            re: Arc::new(re),
            patterns: Arc::new(patterns),
        })
    }

    /// `text` with every match replaced by [`REDACTED`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.re.replace_all(text, REDACTED)
    }
}

/// Cuts `text` to at most `max` bytes on a char boundary and appends a marker with the number of
/// bytes removed.
///
/// ```
/// assert_eq!(baker_otel_llm::content::truncate("héllo", 2), "h…[truncated 5 bytes]");
/// assert_eq!(baker_otel_llm::content::truncate("hi", 2), "hi");
/// ```
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut cut = max;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!(
        "{}…[truncated {} bytes]",
        &text[..cut],
        text.len() - cut
    ))
}

/// What content may be recorded. See the [module docs](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct CapturePolicy {
    enabled: u8,
    max_bytes: usize,
    redactor: Redactor,
}

impl Default for CapturePolicy {
    fn default() -> Self {
        Self::none()
    }
}

impl CapturePolicy {
    /// Default maximum size of one captured value.
    pub const DEFAULT_MAX_BYTES: usize = 8192;

    /// Captures nothing (the default).
    pub fn none() -> Self {
        Self {
            enabled: 0,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            redactor: Redactor::default(),
        }
    }
    /// Captures every category.
    pub fn all() -> Self {
        ContentKind::ALL
            .iter()
            .fold(Self::none(), |p, k| p.capture(*k, true))
    }
    /// Switches one category.
    pub fn capture(mut self, kind: ContentKind, on: bool) -> Self {
        if on {
            self.enabled |= kind.bit();
        } else {
            self.enabled &= !kind.bit();
        }
        self
    }
    /// Maximum bytes of one value before truncation.
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }
    /// Replaces the redactor (e.g. `Redactor::default().with_pattern(..)`).
    pub fn redactor(mut self, r: Redactor) -> Self {
        self.redactor = r;
        self
    }
    /// Whether `kind` is captured.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// assert!(!CapturePolicy::none().enabled(ContentKind::Output));
    /// ```
    pub fn enabled(&self, kind: ContentKind) -> bool {
        self.enabled & kind.bit() != 0
    }

    /// The value to record for `kind`: `None` when not captured, else redacted and truncated.
    pub fn prepare(&self, kind: ContentKind, text: &str) -> Option<String> {
        if !self.enabled(kind) {
            return None;
        }
        let redacted = self.redactor.redact(text);
        Some(truncate(&redacted, self.max_bytes).into_owned())
    }

    /// Reads `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, `BAKER_LLM_CAPTURE` and
    /// `BAKER_LLM_CAPTURE_MAX_BYTES`. Unknown category names are ignored with a warning.
    ///
    /// ```
    /// use baker_otel::config::EnvSource;
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let p = CapturePolicy::from_env(&EnvSource::from_pairs([("BAKER_LLM_CAPTURE", "input, tool_results")]));
    /// assert!(p.enabled(ContentKind::Input) && p.enabled(ContentKind::ToolResults));
    /// assert!(!p.enabled(ContentKind::Output));
    /// ```
    pub fn from_env(env: &EnvSource) -> Self {
        let mut p = Self::none();
        if env
            .get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            p = Self::all();
        }
        if let Some(list) = env.get("BAKER_LLM_CAPTURE") {
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match item.to_ascii_lowercase().as_str() {
                    "all" => p = Self::all().max_bytes(p.max_bytes),
                    "none" => p = Self::none().max_bytes(p.max_bytes),
                    "system" => p = p.capture(ContentKind::SystemInstructions, true),
                    "tool_args" => p = p.capture(ContentKind::ToolArguments, true),
                    other => match ContentKind::ALL.iter().find(|k| k.as_str() == other) {
                        Some(k) => p = p.capture(*k, true),
                        None => {
                            tracing::warn!(target: baker_otel::INTERNAL_TARGET, category = other, "unknown BAKER_LLM_CAPTURE category ignored")
                        }
                    },
                }
            }
        }
        if let Some(n) = env
            .get("BAKER_LLM_CAPTURE_MAX_BYTES")
            .and_then(|v| v.trim().parse().ok())
        {
            p.max_bytes = n;
        }
        p
    }
}
