//! The Worker's agent loop: LLM → tools → LLM …, with memory and an HTTP extension.
//!
//! Telemetry, all from `baker-otel-llm`: the loop runs in an `invoke_agent baker-agent` span
//! ([`agent_span!`]), each step in a `baker.agent.iteration` span ([`iteration_span!`]); LLM
//! calls (`#[llm_call]` on the provider, [`LlmStream`] for the streamed answer) and tools
//! (`#[tool]`) below them get the iteration number, and their tokens and cost roll up onto the
//! iteration and agent spans.

use crate::llm::{Decision, Message, Role, ScriptedLlm, ToolCall, AGENT_MODEL, PROVIDER};
use crate::memory::MemoryStore;
use crate::tools::Tools;
use crate::wire::{Job, JobResult, Usage};
use baker_otel_llm::{agent_span, iteration_span, llm_span, memory_span, LlmStream};
use futures_util::StreamExt;
use std::sync::Arc;

pub use crate::tools::MEMORY_STORE;

/// Name of the agent on spans and metrics.
pub const AGENT_NAME: &str = "baker-agent";
const MAX_ITERATIONS: u32 = 6;
const SYSTEM_PROMPT: &str =
    "You are Baker, a helpful assistant for the Baker Street tea company. Use the \
tools to look up notes, do arithmetic and check orders. Answer briefly and cite figures.";

/// The agent and its dependencies.
#[derive(Debug, Clone)]
pub struct Agent {
    llm: ScriptedLlm,
    tools: Tools,
}

impl Agent {
    /// An agent using `extension_url` (base URL of the extension server) for `order_lookup`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # let capture = baker_otel::testing::Capture::new();
    /// # let telemetry = capture.telemetry();
    /// let agent = agent_pipeline::agent::Agent::new(
    ///     agent_pipeline::llm::ScriptedLlm::new(std::time::Duration::ZERO),
    ///     Arc::new(agent_pipeline::memory::MemoryStore::seeded()),
    ///     "http://127.0.0.1:1".into(),
    ///     baker_otel_axum::OtelClientLayer::new(&telemetry),
    /// );
    /// # let _ = agent;
    /// ```
    pub fn new(
        llm: ScriptedLlm,
        memory: Arc<MemoryStore>,
        extension_url: String,
        outbound: baker_otel_axum::OtelClientLayer,
    ) -> Self {
        Self {
            llm,
            tools: Tools::new(memory, extension_url, outbound),
        }
    }

    /// Runs the loop for `job` inside an `invoke_agent` span; the result's usage is the
    /// agent span's roll-up of every LLM call below it.
    pub async fn run(&self, job: &Job) -> JobResult {
        let agent = agent_span!(AGENT_NAME);
        let mut result = agent.instrument(self.run_inner(job)).await;
        result.usage = Usage::from_totals(&agent.totals());
        result
    }

    async fn run_inner(&self, job: &Job) -> JobResult {
        let mut tool_errors = 0;
        let mut messages = vec![
            Message::new(Role::System, SYSTEM_PROMPT),
            Message::new(Role::User, job.message.clone()),
        ];
        let mut reply = String::new();
        for iteration in 1..=MAX_ITERATIONS {
            let it = iteration_span!(iteration);
            let step = it
                .instrument(async {
                    let final_turn = messages
                        .iter()
                        .filter(|m| m.role == Role::Assistant)
                        .count()
                        >= 2;
                    if final_turn {
                        return Some(self.stream_answer(&messages).await);
                    }
                    let completion = self
                        .llm
                        .chat(crate::llm::ChatRequest::new(AGENT_MODEL, &messages))
                        .await;
                    match completion.decision {
                        Decision::Answer(text) => Some(text),
                        Decision::ToolCalls(calls) => {
                            let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
                            messages.push(Message::new(
                                Role::Assistant,
                                format!("calling {}", names.join(", ")),
                            ));
                            for call in &calls {
                                let (result, failed) = self.execute(call, job).await;
                                tool_errors += u32::from(failed);
                                messages.push(Message::new(Role::Tool, result));
                            }
                            None
                        }
                    }
                })
                .await;
            drop(it);
            if let Some(text) = step {
                reply = text;
                break;
            }
        }
        let remember = memory_span!(insert, MEMORY_STORE);
        remember.in_scope(|| {
            self.tools.memory().insert(
                Some(&job.conversation_id),
                &format!("User asked: {}", job.message),
            );
        });
        remember.record_result_count(1);
        remember.end();
        tracing::info!(tool_errors, reply_chars = reply.len(), "agent finished");
        JobResult {
            job_id: job.job_id.clone(),
            reply,
            usage: Usage::default(),
            tool_errors,
        }
    }

    /// The final answer, streamed: `chat gpt-4o` with time to first chunk; usage comes from
    /// the last chunk.
    async fn stream_answer(&self, messages: &[Message]) -> String {
        let span = llm_span!(
            model = AGENT_MODEL,
            provider = PROVIDER,
            role = crate::llm::prompt_role(messages)
        );
        // Serialised only when the content policy captures input.
        if span.captures(baker_otel_llm::content::ContentKind::Input) {
            span.record_input_messages_json(crate::llm::input_messages(messages));
        }
        let mut stream = std::pin::pin!(LlmStream::new(self.llm.chat_stream(messages), span));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            if chunk.usage.is_some() {
                if let Some(span) = stream.span() {
                    span.record_response_model(crate::llm::AGENT_RESPONSE_MODEL);
                    span.record_finish_reasons(
                        &chunk.finish_reason.into_iter().collect::<Vec<_>>(),
                    );
                }
            }
            text.push_str(&chunk.delta);
            if chunk.usage.is_some() {
                if let Some(span) = stream.span() {
                    if span.captures(baker_otel_llm::content::ContentKind::Output) {
                        span.record_output_messages_json(serde_json::json!([{
                            "role": "assistant",
                            "parts": [{ "type": "text", "content": text }],
                            "finish_reason": chunk.finish_reason.unwrap_or("stop"),
                        }]));
                    }
                }
            }
        }
        text
    }

    /// Runs one tool call; returns the text for the model and whether it failed.
    async fn execute(&self, call: &ToolCall, job: &Job) -> (String, bool) {
        match self.tools.run(call, &job.conversation_id).await {
            Ok(text) => (text, false),
            Err(e) => {
                tracing::warn!(tool = %call.name, exception.message = %e, "tool call failed");
                (format!("{} failed: {e}", call.name), true)
            }
        }
    }
}
