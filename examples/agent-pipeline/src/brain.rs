//! The Brain: HTTP API in front of the pipeline. Routes each message with a cheap LLM call,
//! publishes a job on JetStream and waits for the Worker's result.

use crate::llm::{Message, Role, ScriptedLlm};
use crate::memory::MemoryStore;
use crate::settings::{new_id, Settings};
use crate::wire::{ErrorBody, Job, JobResult, MessageRequest, MessageResponse, Usage};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use baker_otel::context::BakerScope;
use baker_otel_llm::{
    agent_span, iteration_span, memory_span, LlmTelemetry, MemoryStoreRegistration,
    MemoryStoreStats,
};
use baker_otel_nats::{NatsTelemetry, QueueDepth, TracedClient, TracedJetStream};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Agent name of the Brain's routing call.
pub const ROUTER_AGENT: &str = "brain-router";
/// Name of the Brain's conversation-history store.
pub const HISTORY_STORE: &str = "conversation-history";

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    client: TracedClient,
    js: TracedJetStream,
    llm: ScriptedLlm,
    history: Arc<MemoryStore>,
    _history_gauges: Arc<MemoryStoreRegistration>,
    settings: Arc<Settings>,
}

/// Why the Brain could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrainError {
    /// NATS connection or JetStream setup failed.
    #[error("nats: {0}")]
    Nats(String),
    /// The listener could not be bound.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Connects to NATS, makes sure the stream exists and builds the state.
pub async fn connect(
    s: Settings,
    telemetry: &baker_otel::TelemetryHandle,
    llm: &LlmTelemetry,
) -> Result<(AppState, QueueDepthGuard), BrainError> {
    let raw = async_nats::ConnectOptions::new()
        .name("agent-brain")
        .connect(&s.nats_url)
        .await
        .map_err(|e| BrainError::Nats(e.to_string()))?;
    let nats = NatsTelemetry::new(telemetry);
    let js = async_nats::jetstream::new(raw.clone());
    crate::worker::ensure_stream(&js, &s)
        .await
        .map_err(|e| BrainError::Nats(e.to_string()))?;
    let depth = QueueDepth::builder(&nats, js.clone())
        .consumer(&s.stream, &s.consumer)
        .interval(Duration::from_secs(1))
        .build()
        .ok();
    let history = Arc::new(MemoryStore::new());
    let h = history.clone();
    let history_gauges = llm.register_memory_store(HISTORY_STORE, move || MemoryStoreStats {
        items: h.len() as u64,
        bytes: h.size_bytes(),
    });
    let state = AppState {
        client: nats.client(raw),
        js: nats.jetstream(js),
        llm: ScriptedLlm::new(s.llm_latency),
        history,
        _history_gauges: Arc::new(history_gauges),
        settings: Arc::new(s),
    };
    Ok((state, QueueDepthGuard(depth)))
}

/// Keeps the queue-depth poller alive.
#[derive(Debug)]
pub struct QueueDepthGuard(#[allow(dead_code)] Option<QueueDepth>);

/// The Brain's public router: the API behind `OtelLayer`, plus `/healthz`. It serves no
/// `/metrics`: cost per model, NATS subjects and drop counters are for the operator, so
/// [`crate::metrics_router`] is served on the internal `BRAIN_METRICS_ADDR` instead (see the
/// `brain` binary).
///
/// The Brain is the public entry point, so its layer is a **public endpoint**: a client's
/// `traceparent` becomes a span link (each request starts its own trace, sampled by our
/// sampler), and client baggage is dropped — a client cannot set the conversation or job id
/// that spans, logs and budgets are charged to. The Worker and the extensions behind it keep
/// full propagation.
pub fn router(state: AppState, telemetry: &baker_otel::Telemetry) -> Router {
    Router::new()
        .route(
            "/v1/conversations/{conversation_id}/messages",
            post(post_message),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(state)
        .layer(
            baker_otel_axum::OtelLayer::builder(telemetry)
                .public_endpoint(true)
                .build(),
        )
}

fn error(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    (status, Json(ErrorBody::new(code, detail))).into_response()
}

async fn post_message(
    State(st): State<AppState>,
    Path(conversation_id): Path<String>,
    body: Bytes,
) -> Response {
    let request: MessageRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(conversation_id, exception.message = %e, "rejected message: invalid JSON");
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("expected {{\"message\": \"...\"}}: {e}"),
            );
        }
    };
    let job_id = new_id("job");
    // The id from the path always wins; one that cannot be carried is rejected, never
    // replaced by an inherited value.
    let scope = match BakerScope::current().try_conversation_id(conversation_id.clone()) {
        Ok(s) => s.job_id(job_id.clone()),
        Err(e) => {
            tracing::warn!(exception.message = %e, "rejected message: invalid conversation id");
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_conversation_id",
                e.to_string(),
            );
        }
    };
    scope
        .instrument(handle(st, conversation_id, job_id, request.message))
        .await
}

async fn handle(
    st: AppState,
    conversation_id: String,
    job_id: String,
    message: String,
) -> Response {
    tracing::info!(chars = message.len(), "message received");
    let remember = memory_span!(insert, HISTORY_STORE);
    remember.in_scope(|| st.history.insert(Some(&conversation_id), &message));
    remember.record_result_count(1);
    remember.end();

    // Route with a cheap model (`#[llm_call]` on the provider), inside a router agent span
    // whose roll-up gives this call's tokens and cost.
    let router = agent_span!(ROUTER_AGENT);
    let msgs = [
        Message::new(Role::System, "Classify the request: math or general."),
        Message::new(Role::User, message.clone()),
    ];
    // One reasoning step: the call gets `baker.agent.iteration` = 1 like the worker's.
    let step = router.in_scope(|| iteration_span!(1));
    let completion = router
        .instrument(step.instrument(st.llm.route(crate::llm::ChatRequest::new(
            crate::llm::ROUTER_MODEL,
            &msgs,
        ))))
        .await;
    drop(step);
    let route_usage = Usage::from_totals(&router.totals());
    router.end();
    let route = match &completion.decision {
        crate::llm::Decision::Answer(r) => r.clone(),
        crate::llm::Decision::ToolCalls(_) => "general".into(),
    };

    // Publish the job and wait for the reply on a private inbox.
    let reply_to = st.client.inner().new_inbox();
    let mut replies = match st.client.subscribe(reply_to.clone()).await {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "nats_unavailable",
                e.to_string(),
            )
        }
    };
    let job = Job {
        job_id: job_id.clone(),
        conversation_id,
        message,
        route,
        reply_to,
    };
    let payload = serde_json::to_vec(&job).unwrap_or_default();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", job_id.as_str());
    let ack = match st
        .js
        .publish_with_headers(st.settings.job_subject(), headers, payload.into())
        .await
    {
        Ok(ack) => ack.await,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "publish_failed",
                e.to_string(),
            )
        }
    };
    if let Err(e) = ack {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "publish_not_acknowledged",
            e.to_string(),
        );
    }
    tracing::info!(subject = %st.settings.job_subject(), "job published");

    let reply = match tokio::time::timeout(st.settings.job_timeout, replies.next()).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            return error(
                StatusCode::BAD_GATEWAY,
                "reply_subscription_closed",
                "the reply subscription closed",
            )
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = st.settings.job_timeout.as_millis() as u64,
                "worker timeout"
            );
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "worker_timeout",
                "the worker did not answer in time",
            );
        }
    };
    let result: JobResult = match reply.in_scope(|| serde_json::from_slice(&reply.payload)) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_GATEWAY,
                "invalid_worker_reply",
                e.to_string(),
            )
        }
    };
    let mut usage = route_usage;
    usage.add(result.usage);
    tracing::info!(
        input_tokens = usage.input_tokens,
        output_tokens = usage.output_tokens,
        cost = usage.cost,
        tool_errors = result.tool_errors,
        "job completed"
    );
    Json(MessageResponse {
        job_id,
        reply: result.reply,
        usage,
    })
    .into_response()
}
