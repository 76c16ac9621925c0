//! Attribute, metric and span names, and the semantic-convention version switch.
//!
//! This module is the one place where baker-otel-llm spells GenAI names. baker-otel-llm emits the
//! GenAI names of semantic conventions **v1.41** by default ([`v1_41::NAMES`]). Setting
//! `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` (comma-separated list, as in every
//! OpenTelemetry SDK) switches to the newer names ([`latest::NAMES`]). [`Names`] is the table of
//! every name that is chosen per mode (plus the mode-independent ones it carries for
//! completeness); the constants below are the mode-independent attribute names, [`op`] the
//! operation names that start span names. The differences between the modes are exactly:
//!
//! | what | v1.41 (default) | `gen_ai_latest_experimental` |
//! |---|---|---|
//! | cache write tokens (span attribute) | `gen_ai.usage.cache_creation.input_tokens` | `gen_ai.usage.cache_write.input_tokens` (staged) |
//! | chat/text duration metric | `gen_ai.client.operation.duration` | `gen_ai.client.inference.duration` (staged) |
//! | embeddings duration metric | `gen_ai.client.operation.duration` | `gen_ai.client.embeddings.duration` (staged) |
//! | time to first chunk metric | `gen_ai.client.operation.time_to_first_chunk` | `gen_ai.client.inference.time_to_first_chunk` (staged) |
//!
//! "Staged" names are not in the upstream snapshots checked (see `docs/semconv.md`); our Weaver
//! registry defines them. Everything else (span names, `gen_ai.provider.name`, token attributes,
//! the `gen_ai.client.token.usage` histogram, `gen_ai.usage.cost.*`, `gen_ai.tool.description`,
//! the memory attributes, the agent call-count histograms) is the same in both modes.
//!
//! ```
//! use baker_otel_llm::semconv::{self, SemconvMode, Names};
//! let latest = Names::for_mode(SemconvMode::LatestExperimental);
//! assert_eq!(latest, semconv::latest::NAMES);
//! assert_eq!(latest.cache_creation_tokens, "gen_ai.usage.cache_write.input_tokens");
//! assert_eq!(semconv::v1_41::NAMES.ttft_metric, "gen_ai.client.operation.time_to_first_chunk");
//! assert_eq!(latest.cost_source, "gen_ai.usage.cost.source");
//! ```

// The GenAI constants of opentelemetry-semantic-conventions 0.33 are deprecated (moved to the
// semantic-conventions-genai repository), so the v1.41 names are spelled out here.
/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";
/// `gen_ai.agent.id`.
pub const GEN_AI_AGENT_ID: &str = "gen_ai.agent.id";
/// `gen_ai.agent.name`.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
/// `gen_ai.conversation.id`.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// `gen_ai.input.messages`.
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// `gen_ai.operation.name`.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.output.messages`.
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// `gen_ai.provider.name`.
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.request.model`.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// `gen_ai.response.finish_reasons`.
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// `gen_ai.response.id`.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// `gen_ai.response.model`.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// `gen_ai.system_instructions`.
pub const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
/// `gen_ai.token.type`.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
/// `gen_ai.tool.call.arguments`.
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// `gen_ai.tool.call.id`.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `gen_ai.tool.call.result`.
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// `gen_ai.tool.name`.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.tool.type`.
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
/// `gen_ai.usage.cache_read.input_tokens`.
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// `gen_ai.usage.input_tokens`.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.usage.reasoning.output_tokens`.
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";

/// `gen_ai.usage.cache_creation.input_tokens` (v1.41).
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// `gen_ai.usage.cache_write.input_tokens` (semantic-conventions-genai, newer).
pub const GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: &str = "gen_ai.usage.cache_write.input_tokens";
/// `gen_ai.response.time_to_first_chunk` (seconds, on streaming chat spans).
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// Cost of the call (or the roll-up of an agent/iteration/job), proposal name.
pub const GEN_AI_USAGE_COST_AMOUNT: &str = "gen_ai.usage.cost.amount";
/// ISO 4217 currency of [`GEN_AI_USAGE_COST_AMOUNT`].
pub const GEN_AI_USAGE_COST_CURRENCY: &str = "gen_ai.usage.cost.currency";
/// Where [`GEN_AI_USAGE_COST_AMOUNT`] comes from: always [`COST_SOURCE_LOCAL`] for baker-otel-llm
/// (computed from the local price tables, not reported by the provider). Proposal name.
pub const GEN_AI_USAGE_COST_SOURCE: &str = "gen_ai.usage.cost.source";
/// Value of [`GEN_AI_USAGE_COST_SOURCE`] for a cost computed from local price tables.
pub const COST_SOURCE_LOCAL: &str = "local";
/// `gen_ai.tool.description` (v1.41): optional on `tool_span!` / `#[tool]`.
pub const GEN_AI_TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
/// `gen_ai.client.token.usage` histogram (v1.41, both modes).
pub const GEN_AI_CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// LLM (inference) calls per agent invocation, histogram: Baker proposal (no upstream name yet).
pub const BAKER_AGENT_INFERENCE_CALLS: &str = "baker.agent.inference.calls";
/// Tool calls per agent invocation, histogram: Baker proposal (no upstream name yet).
pub const BAKER_AGENT_TOOL_CALLS: &str = "baker.agent.tool.calls";

/// Operation names (`gen_ai.operation.name`), which also start the span names
/// (`{operation} {model|tool|agent|store}`). The same in both modes.
///
/// ```
/// assert_eq!(baker_otel_llm::semconv::op::CREATE_MEMORY, "create_memory");
/// ```
pub mod op {
    /// `chat {model}`.
    pub const CHAT: &str = "chat";
    /// `embeddings {model}`.
    pub const EMBEDDINGS: &str = "embeddings";
    /// `execute_tool {name}`.
    pub const EXECUTE_TOOL: &str = "execute_tool";
    /// `invoke_agent {name}`.
    pub const INVOKE_AGENT: &str = "invoke_agent";
    /// `search_memory {store}` (semantic-conventions-genai).
    pub const SEARCH_MEMORY: &str = "search_memory";
    /// `create_memory {store}` (semantic-conventions-genai).
    pub const CREATE_MEMORY: &str = "create_memory";
    /// `update_memory {store}` (semantic-conventions-genai).
    pub const UPDATE_MEMORY: &str = "update_memory";
    /// `upsert_memory {store}` (semantic-conventions-genai).
    pub const UPSERT_MEMORY: &str = "upsert_memory";
    /// `delete_memory {store}` (semantic-conventions-genai).
    pub const DELETE_MEMORY: &str = "delete_memory";
    /// `create_memory_store {store}` (semantic-conventions-genai).
    pub const CREATE_MEMORY_STORE: &str = "create_memory_store";
    /// `delete_memory_store {store}` (semantic-conventions-genai).
    pub const DELETE_MEMORY_STORE: &str = "delete_memory_store";
}
/// Prompting role of an LLM call (`system`, `user`, `assistant`, `tool`): Baker extension.
pub const BAKER_LLM_ROLE: &str = "baker.llm.role";
/// Reasoning-loop iteration (1-based) of an LLM/tool span, or of an iteration span: Baker extension.
pub const BAKER_AGENT_ITERATION: &str = "baker.agent.iteration";
/// Reasoning steps of an agent invocation (highest iteration number), on `invoke_agent` spans:
/// Baker extension.
pub const BAKER_AGENT_ITERATION_COUNT: &str = "baker.agent.iteration_count";
/// `true` when a streamed response was dropped before its end.
pub const BAKER_LLM_CANCELLED: &str = "baker.llm.cancelled";
/// Number of LLM calls without a known price below an agent/iteration/job span.
pub const BAKER_LLM_UNPRICED_CALLS: &str = "baker.llm.unpriced_calls";
/// Number of LLM calls below an agent/iteration span.
pub const BAKER_LLM_CALLS: &str = "baker.llm.calls";
/// Memory store name: label of the memory metrics (`baker.memory.operation.duration`,
/// `baker.memory.store.items`, `baker.memory.store.size`). Spans carry
/// [`GEN_AI_MEMORY_STORE_ID`].
pub const BAKER_MEMORY_STORE: &str = "baker.memory.store";
/// Memory operation label of `baker.memory.operation.duration` (`search`, `insert`, `update`,
/// `upsert`, `delete`). Spans carry [`GEN_AI_OPERATION_NAME`] (`search_memory`, …).
pub const BAKER_MEMORY_OPERATION: &str = "baker.memory.operation";
/// `gen_ai.memory.store.id` (semantic-conventions-genai): memory store of a memory span.
pub const GEN_AI_MEMORY_STORE_ID: &str = "gen_ai.memory.store.id";
/// `gen_ai.memory.record.id` (semantic-conventions-genai): the record of a single-record operation.
pub const GEN_AI_MEMORY_RECORD_ID: &str = "gen_ai.memory.record.id";
/// `gen_ai.memory.record.count` (semantic-conventions-genai): records returned / written / deleted.
pub const GEN_AI_MEMORY_RECORD_COUNT: &str = "gen_ai.memory.record.count";
/// `gen_ai.memory.query.text` (semantic-conventions-genai, opt-in content): search query.
pub const GEN_AI_MEMORY_QUERY_TEXT: &str = "gen_ai.memory.query.text";
/// `gen_ai.memory.records` (semantic-conventions-genai, opt-in content): records as JSON.
pub const GEN_AI_MEMORY_RECORDS: &str = "gen_ai.memory.records";
/// Agent name label of the cost metric.
pub const GEN_AI_AGENT_NAME_LABEL: &str = GEN_AI_AGENT_NAME;

/// Which generation of GenAI names to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SemconvMode {
    /// Semantic conventions v1.41 (default).
    #[default]
    V1_41,
    /// `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`.
    LatestExperimental,
}

impl SemconvMode {
    /// Parses the value of `OTEL_SEMCONV_STABILITY_OPT_IN` (comma-separated tokens).
    ///
    /// ```
    /// use baker_otel_llm::semconv::SemconvMode;
    /// assert_eq!(SemconvMode::from_opt_in("http, gen_ai_latest_experimental"), SemconvMode::LatestExperimental);
    /// assert_eq!(SemconvMode::from_opt_in("http"), SemconvMode::V1_41);
    /// ```
    pub fn from_opt_in(value: &str) -> Self {
        if value
            .split(',')
            .any(|t| t.trim() == "gen_ai_latest_experimental")
        {
            Self::LatestExperimental
        } else {
            Self::V1_41
        }
    }
}

/// The GenAI names of one [`SemconvMode`]: those that differ between the modes, plus the
/// mode-independent attribute and metric names baker-otel-llm emits, so that one table lists them
/// all (`docs/semconv.md` has it as "default vs latest names").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Names {
    /// Cache-write token attribute.
    pub cache_creation_tokens: &'static str,
    /// Duration metric of chat / text-completion calls.
    pub chat_duration_metric: &'static str,
    /// Duration metric of embeddings calls.
    pub embeddings_duration_metric: &'static str,
    /// Time-to-first-chunk metric.
    pub ttft_metric: &'static str,
    /// Token usage histogram (same in both modes).
    pub token_usage_metric: &'static str,
    /// Cost amount attribute (same in both modes).
    pub cost_amount: &'static str,
    /// Cost currency attribute (same in both modes).
    pub cost_currency: &'static str,
    /// Cost source attribute (same in both modes; value `local`).
    pub cost_source: &'static str,
    /// Tool description attribute (same in both modes).
    pub tool_description: &'static str,
    /// LLM calls per agent invocation, histogram (same in both modes; Baker proposal).
    pub agent_inference_calls_metric: &'static str,
    /// Tool calls per agent invocation, histogram (same in both modes; Baker proposal).
    pub agent_tool_calls_metric: &'static str,
}

impl Names {
    /// Names for `mode`.
    ///
    /// ```
    /// use baker_otel_llm::semconv::{Names, SemconvMode};
    /// assert_eq!(Names::for_mode(SemconvMode::V1_41).chat_duration_metric, "gen_ai.client.operation.duration");
    /// ```
    pub const fn for_mode(mode: SemconvMode) -> Self {
        match mode {
            SemconvMode::V1_41 => v1_41::NAMES,
            SemconvMode::LatestExperimental => latest::NAMES,
        }
    }
}

const COMMON: Names = Names {
    cache_creation_tokens: GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    chat_duration_metric: "gen_ai.client.operation.duration",
    embeddings_duration_metric: "gen_ai.client.operation.duration",
    ttft_metric: "gen_ai.client.operation.time_to_first_chunk",
    token_usage_metric: GEN_AI_CLIENT_TOKEN_USAGE,
    cost_amount: GEN_AI_USAGE_COST_AMOUNT,
    cost_currency: GEN_AI_USAGE_COST_CURRENCY,
    cost_source: GEN_AI_USAGE_COST_SOURCE,
    tool_description: GEN_AI_TOOL_DESCRIPTION,
    agent_inference_calls_metric: BAKER_AGENT_INFERENCE_CALLS,
    agent_tool_calls_metric: BAKER_AGENT_TOOL_CALLS,
};

/// Semantic conventions v1.41 (the default).
///
/// ```
/// use baker_otel_llm::semconv::v1_41;
/// assert_eq!(v1_41::NAMES.cache_creation_tokens, "gen_ai.usage.cache_creation.input_tokens");
/// ```
pub mod v1_41 {
    use super::Names;
    /// The names emitted by default.
    pub const NAMES: Names = super::COMMON;
}

/// `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`: the newer names.
///
/// ```
/// use baker_otel_llm::semconv::latest;
/// assert_eq!(latest::NAMES.chat_duration_metric, "gen_ai.client.inference.duration");
/// assert_eq!(latest::NAMES.token_usage_metric, "gen_ai.client.token.usage");
/// ```
pub mod latest {
    use super::Names;
    /// The names emitted under `gen_ai_latest_experimental`.
    pub const NAMES: Names = Names {
        cache_creation_tokens: super::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
        chat_duration_metric: "gen_ai.client.inference.duration",
        embeddings_duration_metric: "gen_ai.client.embeddings.duration",
        ttft_metric: "gen_ai.client.inference.time_to_first_chunk",
        ..super::COMMON
    };
}
