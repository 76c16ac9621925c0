//! # baker-otel-llm
//!
//! GenAI observability for agents on top of [`baker_otel`]: OpenTelemetry spans, metrics and
//! logs for LLM calls, tool executions, agent runs and memory stores, following the GenAI
//! semantic conventions (v1.41 by default; see [`semconv`]), with cost from the
//! [genai-prices](https://github.com/pydantic/genai-prices) database and a content policy that
//! keeps prompts out of telemetry unless you opt in.
//!
//! ```no_run
//! use baker_otel_llm::{agent_span, iteration_span, llm_span, tool_span, Usage};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = baker_otel::init()?;
//! let _llm = baker_otel_llm::LlmTelemetry::builder(&telemetry).default_provider("anthropic").build()?;
//!
//! let agent = agent_span!("planner");                       // invoke_agent planner
//! agent.in_scope(|| {
//!     for n in 1..=2 {
//!         let it = iteration_span!(n);                      // baker.agent.iteration
//!         it.in_scope(|| {
//!             let llm = llm_span!(model = "claude-sonnet-4-5", role = "assistant");
//!             // … call the model …
//!             llm.record_usage(Usage { input_tokens: 812, output_tokens: 97, ..Default::default() });
//!             drop(llm);                                     // chat claude-sonnet-4-5: tokens, cost
//!             let tool = tool_span!("web_search", call_id = "call_1");
//!             tool.end();                                    // execute_tool web_search
//!         });
//!     }
//! });                                                        // totals roll up on the agent span
//! # Ok(()) }
//! ```
//!
//! Attribute macros do the same for functions and methods, sync or async, and read usage from
//! return values implementing [`ReportsUsage`] (`Result<T, E>` too) and `error.type` from `Err`:
//!
//! ```
//! use baker_otel_llm::{llm_call, tool, ReportsUsage, Usage};
//! struct Reply { tokens: (u64, u64) }
//! impl ReportsUsage for Reply {
//!     fn usage(&self) -> Option<Usage> {
//!         Some(Usage { input_tokens: self.tokens.0, output_tokens: self.tokens.1, ..Default::default() })
//!     }
//! }
//! #[derive(Debug)]
//! struct LlmError;
//! impl std::fmt::Display for LlmError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("failed") }
//! }
//!
//! #[llm_call(provider = "anthropic", model = "claude-sonnet-4-5")]
//! async fn complete(prompt: &str) -> Result<Reply, LlmError> {
//!     Ok(Reply { tokens: (prompt.len() as u64, 7) })
//! }
//!
//! #[tool(name = "web_search")]
//! fn web_search(q: &str) -> Vec<String> { vec![q.to_owned()] }
//! ```
//!
//! ## Where things go
//! * Spans: `chat {model}` (CLIENT), `embeddings {model}` (CLIENT), `execute_tool {name}`
//!   (INTERNAL), `invoke_agent {name}` (INTERNAL), `baker.agent.iteration` (INTERNAL),
//!   `search_memory|create_memory|update_memory|upsert_memory|delete_memory {store}` (CLIENT). `gen_ai.conversation.id`
//!   and `baker.job.id` come from the core's baggage processor.
//! * Metrics: exactly those of `docs/metrics.md` ([`metrics`] has the bucket boundaries).
//! * Cost: see [`pricing`]; roll-up onto agent/iteration/job scopes: see [`JobUsage`].
//! * Content: see [`content`]; off by default.
//!
//! ## Cost per call
//! The hot path allocates nothing per call for literal or repeated names: each
//! `(operation, provider, model, agent)` gets its metric attribute sets built once, already
//! sorted, in a bounded cache (1024 entries, then built per call), dynamic span names are
//! shared per model, and prices are cached per `(provider, model)`. Each metric record still
//! pays the OpenTelemetry SDK's attribute-set lookup (~130 ns). The `bound-instruments` feature
//! binds the duration, token and cost instruments to the cached sets instead (~17 ns a record),
//! using the SDK's `experimental_metrics_bound_instruments`. It is on by default; turn it off
//! (`default-features = false`) if that SDK feature's side effects matter to you: it also enables
//! the SDK's own span-processor metrics for the whole build, and a `MeterProvider` other than the
//! SDK's drops bound measurements.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod accumulator;
pub mod adapters;
mod args;
pub mod content;
mod hashing;
mod labels;
mod ledger;
mod macros;
pub mod metrics;
pub mod pricing;
mod request;
pub mod semconv;
mod spans;
mod stream;
mod telemetry;
mod usage;

#[doc(hidden)]
pub mod __private;

/// The kinds of [`SpanHandle`], one per span the macros create: `SpanHandle<kind::Tool>` is a
/// [`ToolSpan`], and so on.
///
/// ```
/// use baker_otel_llm::{kind, tool_span, SpanHandle};
/// let t: SpanHandle<kind::Tool> = tool_span!("web_search");
/// t.end();
/// ```
pub mod kind {
    pub use crate::spans::agent::{Agent, Iteration};
    pub use crate::spans::llm::Llm;
    pub use crate::spans::memory::Memory;
    pub use crate::spans::tool::Tool;
}

pub use accumulator::{JobUsage, Totals};
pub use baker_otel_llm_macros::{llm_call, tool};
pub use labels::MAX_LABEL_VALUES;
pub use metrics::MemoryStoreStats;
pub use pricing::{Cost, PriceOverride, PricingError};
pub use request::LlmRequest;
pub use spans::agent::{AgentSpan, IterationSpan};
pub use spans::handle::{SpanHandle, SpanKind};
pub use spans::llm::LlmSpan;
pub use spans::memory::MemorySpan;
pub use spans::tool::ToolSpan;
pub use stream::{ChunkMeta, ClassifiedMeta, LlmStream, NoMeta, ReportsMeta, ReportsUsageFn};
pub use telemetry::{
    Budget, LlmInitError, LlmTelemetry, LlmTelemetryBuilder, MemoryStoreRegistration,
    MAX_ERROR_TYPES,
};
pub use usage::{ClassifyError, ReportsUsage, Usage, OTHER_ERROR};

/// The crate's README (its crates.io page), compiled as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
