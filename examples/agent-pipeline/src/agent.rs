//! The Worker's agent loop: LLM → tools → LLM …, with memory and an HTTP extension.

use crate::calculator;
use crate::genai;
use crate::llm::{Decision, Message, Role, ScriptedLlm, ToolCall, AGENT_MODEL};
use crate::memory::MemoryStore;
use crate::wire::{Job, JobResult, Usage};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// Name of the agent on spans and metrics.
pub const AGENT_NAME: &str = "baker-agent";
/// Name of the Worker's memory store.
pub const MEMORY_STORE: &str = "agent-notes";
const MAX_ITERATIONS: u32 = 6;
const SYSTEM_PROMPT: &str =
    "You are Baker, a helpful assistant for the Baker Street tea company. Use the \
tools to look up notes, do arithmetic and check orders. Answer briefly and cite figures.";

/// The agent and its dependencies.
#[derive(Debug, Clone)]
pub struct Agent {
    llm: ScriptedLlm,
    memory: Arc<MemoryStore>,
    http: reqwest::Client,
    extension_url: String,
}

impl Agent {
    /// An agent using `extension_url` (base URL of the extension server) for `order_lookup`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let agent = agent_pipeline::agent::Agent::new(
    ///     agent_pipeline::llm::ScriptedLlm::new(std::time::Duration::ZERO),
    ///     Arc::new(agent_pipeline::memory::MemoryStore::seeded()),
    ///     "http://127.0.0.1:1".into(),
    /// );
    /// # let _ = agent;
    /// ```
    pub fn new(llm: ScriptedLlm, memory: Arc<MemoryStore>, extension_url: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            llm,
            memory,
            http,
            extension_url,
        }
    }

    /// Runs the loop for `job` inside an `invoke_agent` span.
    pub async fn run(&self, job: &Job) -> JobResult {
        let span = genai::agent_span(AGENT_NAME);
        self.run_inner(job).instrument(span).await
    }

    async fn run_inner(&self, job: &Job) -> JobResult {
        let mut usage = Usage::default();
        let mut tool_errors = 0;
        let mut messages = vec![
            Message::new(Role::System, SYSTEM_PROMPT),
            Message::new(Role::User, job.message.clone()),
        ];
        let mut reply = String::new();
        for iteration in 1..=MAX_ITERATIONS {
            let step = async {
                let final_turn = messages
                    .iter()
                    .filter(|m| m.role == Role::Assistant)
                    .count()
                    >= 2;
                if final_turn {
                    let (text, u) = self.stream_answer(&messages, iteration).await;
                    usage.add(u);
                    return Some(text);
                }
                let span = genai::chat_span(AGENT_MODEL, Some(iteration), AGENT_NAME);
                let started = Instant::now();
                let completion = self.llm.chat(&messages).instrument(span.clone()).await;
                usage.add(genai::record_completion(
                    &span,
                    AGENT_MODEL,
                    AGENT_NAME,
                    &completion,
                    started,
                    None,
                ));
                match completion.decision {
                    Decision::Answer(text) => Some(text),
                    Decision::ToolCalls(calls) => {
                        let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
                        messages.push(Message::new(
                            Role::Assistant,
                            format!("calling {}", names.join(", ")),
                        ));
                        for call in &calls {
                            let (result, failed) = self.execute(call, iteration, job).await;
                            tool_errors += u32::from(failed);
                            messages.push(Message::new(Role::Tool, result));
                        }
                        None
                    }
                }
            }
            .instrument(genai::iteration_span(iteration))
            .await;
            if let Some(text) = step {
                reply = text;
                break;
            }
        }
        genai::memory_op(MEMORY_STORE, "insert", || {
            self.memory.insert(
                Some(&job.conversation_id),
                &format!("User asked: {}", job.message),
            );
        });
        tracing::info!(tool_errors, reply_chars = reply.len(), "agent finished");
        JobResult {
            job_id: job.job_id.clone(),
            reply,
            usage,
            tool_errors,
        }
    }

    async fn stream_answer(&self, messages: &[Message], iteration: u32) -> (String, Usage) {
        let span = genai::chat_span(AGENT_MODEL, Some(iteration), AGENT_NAME);
        let started = Instant::now();
        let (input_tokens, stream) = self.llm.chat_stream(messages);
        let mut text = String::new();
        let mut ttfc = None;
        let mut chunks = std::pin::pin!(stream);
        async {
            while let Some(chunk) = chunks.next().await {
                ttfc.get_or_insert_with(|| started.elapsed().as_secs_f64());
                text.push_str(&chunk);
            }
        }
        .instrument(span.clone())
        .await;
        let output_tokens = (text.chars().count() as u64).div_ceil(4);
        let model = format!("{AGENT_MODEL}-2024-08-06");
        let u = genai::record_usage(
            &span,
            AGENT_MODEL,
            AGENT_NAME,
            &model,
            "chatcmpl-stream",
            "stop",
            input_tokens,
            output_tokens,
            started,
            ttfc,
        );
        (text, u)
    }

    /// Runs one tool call; returns the text for the model and whether it failed.
    async fn execute(&self, call: &ToolCall, iteration: u32, job: &Job) -> (String, bool) {
        let span = genai::tool_span(&call.name, &call.id, iteration);
        let started = Instant::now();
        let result = self.dispatch(call, job).instrument(span.clone()).await;
        match result {
            Ok(text) => {
                genai::finish_tool(&span, &call.name, started, None);
                (text, false)
            }
            Err(e) => {
                span.in_scope(|| tracing::warn!(tool = %call.name, error = %e, "tool call failed"));
                genai::finish_tool(&span, &call.name, started, Some(&e));
                (format!("{} failed: {e}", call.name), true)
            }
        }
    }

    async fn dispatch(&self, call: &ToolCall, job: &Job) -> Result<String, String> {
        let arg = |k: &str| {
            call.arguments
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        match call.name.as_str() {
            "calculator" => {
                let expr = arg("expression");
                calculator::eval(&expr)
                    .map(|v| format!("{expr} = {v}"))
                    .map_err(|e| format!("cannot evaluate {expr:?}: {e}"))
            }
            "memory_search" => {
                let hits = genai::memory_op(MEMORY_STORE, "search", || {
                    self.memory
                        .search(Some(&job.conversation_id), &arg("query"), 3)
                });
                Ok(match hits.first() {
                    Some(m) => format!("note: {}", m.text),
                    None => "no matching notes".into(),
                })
            }
            "order_lookup" => self.order_lookup(&arg("customer")).await,
            other => Err(format!("unknown tool {other}")),
        }
    }

    async fn order_lookup(&self, customer: &str) -> Result<String, String> {
        let url = format!("{}/extensions/order_lookup", self.extension_url);
        let body = serde_json::json!({ "customer": customer }).to_string();
        let req = self
            .http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        let res = baker_otel_axum::send_traced(req)
            .await
            .map_err(|e| format!("extension unreachable: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("extension answered {}", res.status()));
        }
        let bytes = res
            .bytes()
            .await
            .map_err(|e| format!("extension body: {e}"))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("extension sent invalid JSON: {e}"))?;
        Ok(format!(
            "customer {customer} has {} open orders, next delivery {}",
            v["open_orders"],
            v["next_delivery"].as_str().unwrap_or("?")
        ))
    }
}
