//! What a complete trace of one request looks like. The demo exits non-zero and the end-to-end
//! test fails unless every request's trace contains all of these, across both services.

use super::collector::{Kind, SpanRecord};

/// One expected span: service, kind and name prefix.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Expected {
    /// Short description for reports.
    pub what: &'static str,
    /// `service.name`.
    pub service: &'static str,
    /// Span kind, `None` = any.
    pub kind: Option<Kind>,
    /// Prefix of the span name.
    pub name_prefix: &'static str,
}

impl Expected {
    /// Whether `s` is this span.
    pub fn matches(&self, s: &SpanRecord) -> bool {
        s.service == self.service
            && self.kind.is_none_or(|k| k == s.kind)
            && s.name.starts_with(self.name_prefix)
    }
}

const fn e(
    what: &'static str,
    service: &'static str,
    kind: Option<Kind>,
    name_prefix: &'static str,
) -> Expected {
    Expected {
        what,
        service,
        kind,
        name_prefix,
    }
}

/// The spans of a complete trace.
pub const COMPLETE: &[Expected] = &[
    e(
        "brain HTTP server span",
        "brain",
        Some(Kind::Server),
        "POST /v1/conversations/",
    ),
    e(
        "brain routing LLM call",
        "brain",
        Some(Kind::Client),
        "chat ",
    ),
    e("brain job publish", "brain", Some(Kind::Producer), "send "),
    e(
        "worker job processing",
        "worker",
        Some(Kind::Consumer),
        "process ",
    ),
    e("agent invocation", "worker", None, "invoke_agent"),
    e("agent LLM call", "worker", Some(Kind::Client), "chat "),
    e("tool call", "worker", None, "execute_tool "),
    e("memory search", "worker", None, "search_memory"),
    e("memory update", "worker", None, "update_memory"),
    e("outbound HTTP call", "worker", Some(Kind::Client), "POST"),
    e(
        "extension HTTP server span",
        "worker",
        Some(Kind::Server),
        "POST",
    ),
    e("reply publish", "worker", Some(Kind::Producer), "send "),
];

/// The expected spans that `spans` lacks (empty = complete).
///
/// ```
/// assert_eq!(agent_pipeline::demo::expect::missing(&[]).len(), agent_pipeline::demo::expect::COMPLETE.len());
/// ```
pub fn missing(spans: &[SpanRecord]) -> Vec<&'static Expected> {
    COMPLETE
        .iter()
        .filter(|e| !spans.iter().any(|s| e.matches(s)))
        .collect()
}
