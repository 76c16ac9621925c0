//! A deterministic, scripted LLM provider: no network, realistic token counts, small latencies,
//! and a streaming mode. It plays OpenAI models (`gpt-4o`, `gpt-4o-mini`), so genai-prices
//! prices its calls like real ones.
//!
//! The provider is instrumented the way a real client would be: `#[llm_call]` on its methods,
//! taking a [`ChatRequest`] that tells the span its model, parameters and (when content capture
//! is on) its messages through [`LlmRequest`], with [`Completion`] and [`Chunk`] reporting usage
//! and output messages through [`ReportsUsage`].

use baker_otel_llm::{llm_call, LlmRequest, ReportsUsage, Usage};
use futures_util::Stream;
use serde_json::json;
use std::time::Duration;

/// Provider name reported on spans and metrics.
pub const PROVIDER: &str = "openai";
/// Model of the Worker's agent loop.
pub const AGENT_MODEL: &str = "gpt-4o";
/// Model version that answers for [`AGENT_MODEL`].
pub const AGENT_RESPONSE_MODEL: &str = "gpt-4o-2024-08-06";
/// Cheap model the Brain uses to route messages.
pub const ROUTER_MODEL: &str = "gpt-4o-mini";

/// Role of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// System instructions.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool result.
    Tool,
}

impl Role {
    /// Lower-case name.
    ///
    /// ```
    /// assert_eq!(agent_pipeline::llm::Role::Tool.as_str(), "tool");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One chat message.
///
/// ```
/// let m = agent_pipeline::llm::Message::new(agent_pipeline::llm::Role::User, "hi");
/// assert_eq!(m.content, "hi");
/// ```
#[derive(Debug, Clone)]
pub struct Message {
    /// Role.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl Message {
    /// Builds a message.
    ///
    /// ```
    /// let _ = agent_pipeline::llm::Message::new(agent_pipeline::llm::Role::System, "be brief");
    /// ```
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// A chat request: the model to ask and the conversation so far.
///
/// ```
/// use agent_pipeline::llm::{ChatRequest, Message, Role};
/// use baker_otel_llm::LlmRequest;
/// let msgs = [Message::new(Role::User, "hi")];
/// let req = ChatRequest::new("gpt-4o", &msgs);
/// assert_eq!(req.model(), Some("gpt-4o"));
/// assert_eq!(req.input_messages().unwrap()[0]["parts"][0]["content"], "hi");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    /// Model to ask.
    pub model: &'static str,
    /// The conversation.
    pub messages: &'a [Message],
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Completion token limit.
    pub max_tokens: Option<u64>,
}

impl<'a> ChatRequest<'a> {
    /// A request with the provider's default parameters.
    ///
    /// ```
    /// let r = agent_pipeline::llm::ChatRequest::new("gpt-4o-mini", &[]);
    /// assert!(r.messages.is_empty());
    /// ```
    pub fn new(model: &'static str, messages: &'a [Message]) -> Self {
        Self {
            model,
            messages,
            temperature: None,
            max_tokens: None,
        }
    }
}

impl LlmRequest for ChatRequest<'_> {
    fn role(&self) -> Option<&str> {
        Some(prompt_role(self.messages))
    }
    fn model(&self) -> Option<&str> {
        Some(self.model)
    }
    fn temperature(&self) -> Option<f64> {
        self.temperature
    }
    fn max_tokens(&self) -> Option<u64> {
        self.max_tokens
    }
    fn input_messages(&self) -> Option<serde_json::Value> {
        Some(input_messages(self.messages))
    }
}

/// Messages in the GenAI input-messages shape
/// (`[{"role": "user", "parts": [{"type": "text", "content": "…"}]}]`).
///
/// ```
/// use agent_pipeline::llm::{input_messages, Message, Role};
/// let v = input_messages(&[Message::new(Role::System, "be brief")]);
/// assert_eq!(v[0]["role"], "system");
/// ```
pub fn input_messages(messages: &[Message]) -> serde_json::Value {
    serde_json::Value::Array(
        messages
            .iter()
            .map(|m| {
                json!({
                    "role": m.role.as_str(),
                    "parts": [{ "type": "text", "content": m.content }],
                })
            })
            .collect(),
    )
}

/// A tool call requested by the model. It serialises as its `arguments` (what `#[tool]`
/// records as `gen_ai.tool.call.arguments` when capture is on).
///
/// ```
/// let c = agent_pipeline::llm::ToolCall { id: "call_1".into(), name: "calculator".into(), arguments: serde_json::json!({"expression": "1+1"}) };
/// assert_eq!(c.name, "calculator");
/// assert_eq!(serde_json::to_value(&c).unwrap(), serde_json::json!({"expression": "1+1"}));
/// ```
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// Call id.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// JSON arguments.
    pub arguments: serde_json::Value,
}

impl serde::Serialize for ToolCall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.arguments.serialize(s)
    }
}

/// What the model decided.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Decision {
    /// Call these tools, then ask again.
    ToolCalls(Vec<ToolCall>),
    /// Final answer.
    Answer(String),
}

/// A chat completion.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Completion {
    /// Response id.
    pub id: String,
    /// Model that answered.
    pub model: String,
    /// Tool calls or answer.
    pub decision: Decision,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// `stop` or `tool_calls`.
    pub finish_reason: &'static str,
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            ..Default::default()
        })
    }
    fn response_id(&self) -> Option<&str> {
        Some(&self.id)
    }
    fn response_model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn finish_reasons(&self) -> Vec<&str> {
        vec![self.finish_reason]
    }
    fn output_messages(&self) -> Option<serde_json::Value> {
        let parts: Vec<serde_json::Value> = match &self.decision {
            Decision::Answer(text) => vec![json!({ "type": "text", "content": text })],
            Decision::ToolCalls(calls) => calls
                .iter()
                .map(|c| {
                    json!({
                        "type": "tool_call",
                        "id": c.id,
                        "name": c.name,
                        "arguments": c.arguments,
                    })
                })
                .collect(),
        };
        Some(json!([{
            "role": "assistant",
            "parts": parts,
            "finish_reason": self.finish_reason,
        }]))
    }
}

/// One chunk of a streamed answer. As with OpenAI's `stream_options.include_usage`, the last
/// chunk has no text and carries the usage of the whole call.
///
/// ```
/// use baker_otel_llm::ReportsUsage;
/// let c = agent_pipeline::llm::Chunk { delta: "Hello ".into(), usage: None, finish_reason: None };
/// assert!(c.usage().is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    /// Text of this chunk.
    pub delta: String,
    /// Usage of the whole call (last chunk only).
    pub usage: Option<Usage>,
    /// `stop` on the last chunk.
    pub finish_reason: Option<&'static str>,
}

impl ReportsUsage for Chunk {
    fn usage(&self) -> Option<Usage> {
        self.usage
    }
    fn finish_reasons(&self) -> Vec<&str> {
        self.finish_reason.into_iter().collect()
    }
}

/// Rough tokenizer: about four characters per token plus per-message overhead, as for GPT models.
///
/// ```
/// use agent_pipeline::llm::{count_tokens, Message, Role};
/// assert!(count_tokens(&[Message::new(Role::User, "What is the capital of France?")]) > 5);
/// ```
pub fn count_tokens(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| 4 + text_tokens(&m.content))
        .sum::<u64>()
        + 3
}

fn text_tokens(s: &str) -> u64 {
    (s.chars().count() as u64).div_ceil(4)
}

/// The scripted provider.
///
/// ```
/// use agent_pipeline::llm::{Message, Role, ScriptedLlm};
/// let llm = ScriptedLlm::new(std::time::Duration::ZERO);
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// let msgs = [Message::new(Role::User, "what is 2+2?")];
/// let c = rt.block_on(llm.route(agent_pipeline::llm::ChatRequest::new("gpt-4o-mini", &msgs)));
/// assert!(c.input_tokens > 0);
/// ```
#[derive(Debug, Clone)]
pub struct ScriptedLlm {
    latency: Duration,
}

impl ScriptedLlm {
    /// A provider whose calls take about `latency` (plus a little per 1k prompt tokens).
    ///
    /// ```
    /// let _ = agent_pipeline::llm::ScriptedLlm::new(std::time::Duration::from_millis(4));
    /// ```
    pub fn new(latency: Duration) -> Self {
        Self { latency }
    }

    fn delay(&self, input_tokens: u64) -> Duration {
        self.latency + self.latency.mul_f64(input_tokens as f64 / 1000.0)
    }

    /// The Brain's routing call: classifies the message into a route (`math` or `general`).
    /// Traced as `chat gpt-4o-mini` (model, role and messages from the [`ChatRequest`]) with
    /// usage, response id/model and finish reason.
    #[llm_call(provider = "openai")]
    pub async fn route(&self, req: ChatRequest<'_>) -> Completion {
        let messages = req.messages;
        let input_tokens = count_tokens(messages) + 180;
        tokio::time::sleep(self.delay(input_tokens) / 2).await;
        let user = last(messages, Role::User);
        let route = if find_expression(user).is_some() {
            "math"
        } else {
            "general"
        };
        Completion {
            id: response_id(user, 0),
            model: format!("{ROUTER_MODEL}-2024-07-18"),
            decision: Decision::Answer(route.to_string()),
            input_tokens,
            output_tokens: 2,
            finish_reason: "stop",
        }
    }

    /// One non-streaming step of the Worker's agent loop. The script: first memory search and
    /// calculator, then the order-lookup extension, then an answer. Traced as `chat gpt-4o`.
    #[llm_call(provider = "openai")]
    pub async fn chat(&self, req: ChatRequest<'_>) -> Completion {
        let messages = req.messages;
        let input_tokens = count_tokens(messages) + 420; // + tool definitions
        tokio::time::sleep(self.delay(input_tokens)).await;
        let user = last(messages, Role::User);
        let done = messages.iter().filter(|m| m.role == Role::Tool).count();
        let step = messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count();
        let decision = if done == 0 {
            let expression = if user.to_lowercase().contains("fail tool") {
                "1 / 0".to_string()
            } else {
                find_expression(user).unwrap_or_else(|| "17 * 23".into())
            };
            Decision::ToolCalls(vec![
                call(
                    step,
                    0,
                    "memory_search",
                    json!({ "query": user, "top_k": 3 }),
                ),
                call(step, 1, "calculator", json!({ "expression": expression })),
            ])
        } else if step < 2 {
            Decision::ToolCalls(vec![call(
                step,
                0,
                "order_lookup",
                json!({ "customer": "baker-street-221b" }),
            )])
        } else {
            Decision::Answer(answer(messages))
        };
        let output_tokens = match &decision {
            Decision::ToolCalls(calls) => calls
                .iter()
                .map(|c| 12 + text_tokens(&c.arguments.to_string()))
                .sum(),
            Decision::Answer(a) => text_tokens(a),
        };
        let finish_reason = if matches!(decision, Decision::ToolCalls(_)) {
            "tool_calls"
        } else {
            "stop"
        };
        Completion {
            id: response_id(user, step),
            model: AGENT_RESPONSE_MODEL.to_string(),
            decision,
            input_tokens,
            output_tokens,
            finish_reason,
        }
    }

    /// The final answer, streamed in chunks of a few words; the last chunk carries the usage.
    /// Not traced here: the caller wraps the stream in a [`baker_otel_llm::LlmStream`].
    ///
    /// ```
    /// use agent_pipeline::llm::{Message, Role, ScriptedLlm};
    /// use futures_util::StreamExt;
    /// let llm = ScriptedLlm::new(std::time::Duration::ZERO);
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// let chunks: Vec<_> = rt.block_on(llm.chat_stream(&[Message::new(Role::User, "hi")]).collect());
    /// assert!(chunks.last().unwrap().usage.unwrap().output_tokens > 0);
    /// ```
    pub fn chat_stream(&self, messages: &[Message]) -> impl Stream<Item = Chunk> + Send + 'static {
        let input_tokens = count_tokens(messages) + 420;
        let first = self.delay(input_tokens);
        let gap = self.latency / 8;
        let text = answer(messages);
        let usage = Usage {
            input_tokens,
            output_tokens: text_tokens(&text),
            ..Default::default()
        };
        let mut chunks: Vec<Chunk> = text
            .split_inclusive(' ')
            .collect::<Vec<_>>()
            .chunks(3)
            .map(|c| Chunk {
                delta: c.concat(),
                ..Default::default()
            })
            .collect();
        chunks.push(Chunk {
            delta: String::new(),
            usage: Some(usage),
            finish_reason: Some("stop"),
        });
        futures_util::stream::unfold((0usize, chunks), move |(i, mut chunks)| async move {
            if i >= chunks.len() {
                return None;
            }
            let chunk = std::mem::take(&mut chunks[i]);
            tokio::time::sleep(if i == 0 { first } else { gap }).await;
            Some((chunk, (i + 1, chunks)))
        })
    }
}

fn call(step: usize, n: usize, name: &str, arguments: serde_json::Value) -> ToolCall {
    ToolCall {
        id: format!("call_{step}{n}_{name}"),
        name: name.into(),
        arguments,
    }
}

/// The prompting role of a request (`baker.llm.role` on its `chat` span): the role of the last
/// input message — `user` for a fresh question, `tool` when the call carries tool results back to
/// the model.
///
/// ```
/// use agent_pipeline::llm::{prompt_role, Message, Role};
/// assert_eq!(prompt_role(&[Message::new(Role::System, "s"), Message::new(Role::User, "q")]), "user");
/// assert_eq!(prompt_role(&[]), "user");
/// ```
pub fn prompt_role(messages: &[Message]) -> &'static str {
    messages.last().map_or("user", |m| m.role.as_str())
}

fn last(messages: &[Message], role: Role) -> &str {
    messages
        .iter()
        .rev()
        .find(|m| m.role == role)
        .map(|m| m.content.as_str())
        .unwrap_or("")
}

fn response_id(user: &str, step: usize) -> String {
    let h = user.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!("chatcmpl-{:012x}{step}", h & 0xffff_ffff_ffff)
}

fn answer(messages: &[Message]) -> String {
    let tools: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.as_str())
        .collect();
    let facts = tools.join("; ");
    format!(
        "Here is what I found. {facts}. I checked your saved notes, did the arithmetic and looked up \
         the order system, so the figures above are current as of this conversation. Anything else?"
    )
}

/// Finds an arithmetic expression such as `12 * (3 + 4)` in free text.
///
/// ```
/// assert_eq!(agent_pipeline::llm::find_expression("what is 12 * 7?").as_deref(), Some("12 * 7"));
/// assert_eq!(agent_pipeline::llm::find_expression("hello"), None);
/// ```
pub fn find_expression(text: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_digit() || "+-*/(). ".contains(c);
    text.split(|c: char| !allowed(c))
        .map(str::trim)
        .find(|s| {
            s.chars().any(|c| c.is_ascii_digit())
                && s.chars().any(|c| "+-*/".contains(c))
                && s.len() >= 3
        })
        .map(|s| s.trim_end_matches('.').trim().to_string())
}
