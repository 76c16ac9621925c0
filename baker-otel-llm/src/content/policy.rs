//! The capture policy: content categories, which of them are recorded, the size limit and
//! the redactor, and the environment switches.

use super::redactor::Redactor;
use baker_otel::config::EnvSource;

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

/// What content may be recorded. See the [module docs](super).
#[derive(Debug, Clone)]
#[must_use]
pub struct CapturePolicy {
    enabled: u8,
    pub(super) max_bytes: usize,
    pub(super) redactor: Redactor,
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
    ///
    /// Always false when the redactor [failed](Redactor::failed) (fail closed).
    pub fn enabled(&self, kind: ContentKind) -> bool {
        self.enabled & kind.bit() != 0 && !self.redactor.failed()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding 4: if the default patterns ever fail to compile, capture turns off instead of
    /// recording unredacted content.
    #[test]
    fn a_redactor_that_failed_to_compile_turns_capture_off() {
        let broken = Redactor::compile_or_fail_closed(&[("ok", r"a+"), ("broken", r"(unclosed")]);
        assert!(broken.failed());
        let p = CapturePolicy::all().redactor(broken);
        assert!(!p.enabled(ContentKind::Input));
        assert_eq!(p.prepare(ContentKind::Input, "password=hunter2"), None);
        assert_eq!(
            p.prepare_json(ContentKind::Input, serde_json::json!({"pwd": "hunter2"})),
            None
        );
        assert_eq!(
            p.error_description(ContentKind::Output, "pwd=hunter2"),
            None
        );
        assert!(!Redactor::default().failed(), "the defaults compile");
        assert!(CapturePolicy::all().enabled(ContentKind::Input));
    }
}
