//! What a complete trace of one request looks like. The demo exits non-zero and the end-to-end
//! test fails unless every request's trace contains all of these, across both services, each
//! with the listed attributes (e.g. tokens and cost on every LLM call).

use super::collector::{Kind, SpanRecord};

/// One expected span: service, kind, name prefix and attributes it must carry.
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
    /// Attributes that must be present.
    pub attributes: &'static [&'static str],
}

impl Expected {
    /// Whether `s` is this span (service, kind, name and every required attribute).
    pub fn matches(&self, s: &SpanRecord) -> bool {
        s.service == self.service
            && self.kind.is_none_or(|k| k == s.kind)
            && s.name.starts_with(self.name_prefix)
            && self.attributes.iter().all(|a| s.attr(a).is_some())
    }
}

const fn e(
    what: &'static str,
    service: &'static str,
    kind: Option<Kind>,
    name_prefix: &'static str,
    attributes: &'static [&'static str],
) -> Expected {
    Expected {
        what,
        service,
        kind,
        name_prefix,
        attributes,
    }
}

/// Attributes of a priced LLM call.
const LLM: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cost.amount",
    "gen_ai.usage.cost.currency",
];
/// Totals rolled up onto agent and iteration spans.
const ROLL_UP: &[&str] = &[
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cost.amount",
    "baker.llm.calls",
];
const TOOL: &[&str] = &[
    "gen_ai.tool.name",
    "gen_ai.tool.call.id",
    "baker.agent.iteration",
];
const MEMORY: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.memory.store.id",
    "gen_ai.memory.record.count",
];

/// The spans of a complete trace.
pub const COMPLETE: &[Expected] = &[
    e(
        "brain HTTP server span",
        "brain",
        Some(Kind::Server),
        "POST /v1/conversations/",
        &[],
    ),
    e(
        "brain history update",
        "brain",
        Some(Kind::Client),
        "create_memory conversation-history",
        MEMORY,
    ),
    e(
        "brain router agent",
        "brain",
        Some(Kind::Internal),
        "invoke_agent brain-router",
        ROLL_UP,
    ),
    e(
        "brain routing LLM call",
        "brain",
        Some(Kind::Client),
        "chat gpt-4o-mini",
        LLM,
    ),
    e(
        "brain job publish",
        "brain",
        Some(Kind::Producer),
        "send ",
        &[],
    ),
    e(
        "worker job processing",
        "worker",
        Some(Kind::Consumer),
        "process ",
        &[],
    ),
    e(
        "agent invocation",
        "worker",
        Some(Kind::Internal),
        "invoke_agent baker-agent",
        ROLL_UP,
    ),
    e(
        "agent iteration",
        "worker",
        Some(Kind::Internal),
        "baker.agent.iteration",
        &["baker.agent.iteration", "gen_ai.agent.name"],
    ),
    e(
        "agent LLM call",
        "worker",
        Some(Kind::Client),
        "chat gpt-4o",
        LLM,
    ),
    e(
        "agent streamed LLM call",
        "worker",
        Some(Kind::Client),
        "chat gpt-4o",
        &[
            "gen_ai.response.time_to_first_chunk",
            "gen_ai.usage.cost.amount",
        ],
    ),
    e(
        "calculator tool",
        "worker",
        Some(Kind::Internal),
        "execute_tool calculator",
        TOOL,
    ),
    e(
        "memory search tool",
        "worker",
        Some(Kind::Internal),
        "execute_tool memory_search",
        TOOL,
    ),
    e(
        "extension tool",
        "worker",
        Some(Kind::Internal),
        "execute_tool order_lookup",
        TOOL,
    ),
    e(
        "memory search",
        "worker",
        Some(Kind::Client),
        "search_memory agent-notes",
        MEMORY,
    ),
    e(
        "memory update",
        "worker",
        Some(Kind::Client),
        "create_memory agent-notes",
        MEMORY,
    ),
    e(
        "outbound HTTP call",
        "worker",
        Some(Kind::Client),
        "POST",
        &[],
    ),
    e(
        "extension HTTP server span",
        "worker",
        Some(Kind::Server),
        "POST /extensions/order_lookup",
        &[],
    ),
    e(
        "reply publish",
        "worker",
        Some(Kind::Producer),
        "send ",
        &[],
    ),
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
