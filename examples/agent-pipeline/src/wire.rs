//! Messages exchanged between the Brain, the Worker and HTTP clients.

use serde::{Deserialize, Serialize};

/// Body of `POST /v1/conversations/{conversation_id}/messages`.
///
/// ```
/// let m: agent_pipeline::wire::MessageRequest = serde_json::from_str(r#"{"message":"hi"}"#).unwrap();
/// assert_eq!(m.message, "hi");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageRequest {
    /// What the user said.
    pub message: String,
}

/// Token usage and cost of one job.
///
/// ```
/// let u = agent_pipeline::wire::Usage { input_tokens: 10, output_tokens: 2, cost: 0.0001 };
/// assert_eq!(u.input_tokens + u.output_tokens, 12);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens over every LLM call of the job.
    pub input_tokens: u64,
    /// Completion tokens over every LLM call of the job.
    pub output_tokens: u64,
    /// Cost in USD.
    pub cost: f64,
}

impl Usage {
    /// Adds another usage to this one.
    ///
    /// ```
    /// let mut u = agent_pipeline::wire::Usage::default();
    /// u.add(agent_pipeline::wire::Usage { input_tokens: 3, output_tokens: 1, cost: 0.5 });
    /// assert_eq!(u.input_tokens, 3);
    /// ```
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost += other.cost;
    }
}

impl Usage {
    /// Tokens and USD cost of a `baker-otel-llm` roll-up (agent span, iteration, job).
    ///
    /// ```
    /// let u = agent_pipeline::wire::Usage::from_totals(&baker_otel_llm::Totals::default());
    /// assert_eq!(u, agent_pipeline::wire::Usage::default());
    /// ```
    pub fn from_totals(t: &baker_otel_llm::Totals) -> Self {
        Self {
            input_tokens: t.usage.input_tokens,
            output_tokens: t.usage.output_tokens,
            cost: t
                .costs
                .iter()
                .filter(|c| c.currency.as_str() == "USD")
                .map(|c| c.amount)
                .sum(),
        }
    }
}

/// 200 answer of the Brain.
///
/// ```
/// let r = agent_pipeline::wire::MessageResponse { job_id: "j".into(), reply: "ok".into(), usage: Default::default() };
/// assert!(serde_json::to_string(&r).unwrap().contains("\"usage\""));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageResponse {
    /// Job id created by the Brain.
    pub job_id: String,
    /// The agent's answer.
    pub reply: String,
    /// Usage of the whole job (Brain routing call plus Worker agent loop).
    pub usage: Usage,
}

/// JSON error body of every non-200 answer.
///
/// ```
/// let e = agent_pipeline::wire::ErrorBody::new("bad_request", "invalid JSON");
/// assert_eq!(e.error, "bad_request");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable error code.
    pub error: String,
    /// Human-readable detail.
    pub detail: String,
}

impl ErrorBody {
    /// Builds an error body.
    ///
    /// ```
    /// let _ = agent_pipeline::wire::ErrorBody::new("timeout", "worker did not answer");
    /// ```
    pub fn new(error: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            detail: detail.into(),
        }
    }
}

/// A job published by the Brain on JetStream.
///
/// ```
/// let j = agent_pipeline::wire::Job { job_id: "j".into(), conversation_id: "c".into(), message: "hi".into(), route: "general".into(), reply_to: "_INBOX.x".into() };
/// assert_eq!(j.route, "general");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Job id.
    pub job_id: String,
    /// Conversation id.
    pub conversation_id: String,
    /// The user message.
    pub message: String,
    /// Route chosen by the Brain's classifier.
    pub route: String,
    /// Core NATS subject the Worker publishes the [`JobResult`] to.
    pub reply_to: String,
}

/// The Worker's answer to a [`Job`].
///
/// ```
/// let r = agent_pipeline::wire::JobResult { job_id: "j".into(), reply: "ok".into(), usage: Default::default(), tool_errors: 0 };
/// assert_eq!(r.tool_errors, 0);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobResult {
    /// Job id.
    pub job_id: String,
    /// Final answer.
    pub reply: String,
    /// Usage of the agent loop.
    pub usage: Usage,
    /// Tool calls that failed (the agent recovered from them).
    pub tool_errors: u32,
}
