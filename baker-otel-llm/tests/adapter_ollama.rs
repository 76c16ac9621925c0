//! ollama-rs adapter (feature `ollama-rs`) on recorded Ollama payloads (tests/fixtures/ollama):
//! `#[llm_call]` and `LlmStream::new` with no glue record tokens, response model, time to first
//! chunk and the unpriced-call count (local models have no price); a price override prices
//! them; a stream dropped half-way ends the span with what was seen; an error response sets
//! `error.type` and leaks no content.
#![cfg(feature = "ollama-rs")]

use baker_otel::testing::{Capture, CapturedSpan};
use baker_otel_llm::{
    llm_call, llm_span, ClassifyError, LlmRequest, LlmStream, LlmTelemetry, PriceOverride,
    ReportsUsage, Usage,
};
use futures_util::{stream, StreamExt};
use ollama_rs::error::OllamaError;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::ChatMessageResponse;
use ollama_rs::generation::completion::request::GenerationRequest;
use ollama_rs::generation::completion::GenerationResponse;

const REQUEST: &str = include_str!("fixtures/ollama/chat_request.json");
const RESPONSE: &str = include_str!("fixtures/ollama/chat_response.json");
const STREAM: &str = include_str!("fixtures/ollama/chat_stream.jsonl");
const NOT_FOUND: &str = include_str!("fixtures/ollama/error_model_not_found.json");

fn request() -> ChatMessageRequest {
    serde_json::from_str(REQUEST).unwrap()
}
/// `send_chat_messages_stream` yields `Result<ChatMessageResponse, ()>`.
fn chunks() -> Vec<Result<ChatMessageResponse, ()>> {
    STREAM
        .lines()
        .map(|l| Ok(serde_json::from_str(l).unwrap()))
        .collect()
}

fn a(span: &CapturedSpan, k: &str) -> Option<String> {
    Capture::attr(span, k).map(|v| v.to_string())
}

/// Stands in for `ollama.send_chat_messages(req)`; a non-success status becomes
/// `OllamaError::Other(body)` there.
#[llm_call(provider = "ollama", model = req.model_name.clone())]
async fn chat(req: ChatMessageRequest, fail: bool) -> Result<ChatMessageResponse, OllamaError> {
    if fail {
        return Err(OllamaError::Other(NOT_FOUND.to_owned()));
    }
    Ok(serde_json::from_str(RESPONSE)?)
}

#[test]
fn requests_report_model_sampling_and_genai_input_messages() {
    let req = request();
    assert_eq!(req.model(), Some("llama3.2"));
    assert_eq!(req.temperature(), Some(0.3));
    assert_eq!(req.max_tokens(), Some(128));
    assert_eq!(req.role(), Some("user"));
    assert_eq!(
        req.input_messages().unwrap(),
        serde_json::json!([
            {"role": "system", "parts": [{"type": "text", "content": "Answer in one sentence."}]},
            {"role": "user", "parts": [{"type": "text", "content": "why is the sky blue?"}]}
        ])
    );
    let gen = GenerationRequest::new("llama3.2".into(), "why is the sky blue?");
    assert_eq!(
        (gen.model(), gen.role(), gen.max_tokens()),
        (Some("llama3.2"), Some("user"), None)
    );
    assert_eq!(
        gen.input_messages().unwrap(),
        serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": "why is the sky blue?"}]}])
    );
}

#[test]
fn responses_report_usage_model_and_output_messages() {
    let resp: ChatMessageResponse = serde_json::from_str(RESPONSE).unwrap();
    assert_eq!(
        resp.usage(),
        Some(Usage {
            input_tokens: 26,
            output_tokens: 298,
            ..Default::default()
        })
    );
    assert_eq!(resp.response_model(), Some("llama3.2"));
    assert_eq!(
        resp.output_messages().unwrap(),
        serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": "Hello! How are you today?"}]}])
    );
    // /api/generate: same counts, top-level fields.
    let gen: GenerationResponse = serde_json::from_str(
        r#"{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","response":"The sky is blue because it is the color of the sky.","done":true,
            "context":[1,2,3],"total_duration":10706818083,"load_duration":6338219291,"prompt_eval_count":26,
            "prompt_eval_duration":130079000,"eval_count":259,"eval_duration":4232710000}"#,
    )
    .unwrap();
    assert_eq!(
        gen.usage().map(|u| (u.input_tokens, u.output_tokens)),
        Some((26, 259))
    );
    // A streamed chunk before the end reports no usage.
    assert_eq!(chunks()[0].usage(), None);
    assert_eq!(
        OllamaError::Other(NOT_FOUND.into()).error_type(),
        "api_error"
    );
}

#[tokio::test]
async fn llm_call_records_tokens_model_and_unpriced_call() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    chat(request(), false).await.unwrap();
    let span = capture.span("chat llama3.2");
    assert_eq!(a(&span, "gen_ai.provider.name").as_deref(), Some("ollama"));
    assert_eq!(a(&span, "gen_ai.usage.input_tokens").as_deref(), Some("26"));
    assert_eq!(
        a(&span, "gen_ai.usage.output_tokens").as_deref(),
        Some("298")
    );
    assert_eq!(
        a(&span, "gen_ai.response.model").as_deref(),
        Some("llama3.2")
    );
    assert_eq!(a(&span, "baker.llm.role").as_deref(), Some("user"));
    assert!(
        a(&span, "gen_ai.usage.cost.amount").is_none(),
        "local model: no price"
    );
    assert_eq!(capture.metric_total("baker.llm.unpriced_calls"), Some(1.0));
    assert_eq!(
        capture.metric_total("gen_ai.client.token.usage"),
        Some(324.0)
    );
}

#[tokio::test]
async fn price_override_prices_local_model() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .price_override(
            PriceOverride::new("llama3.2", 1.0, 2.0)
                .provider("ollama")
                .currency("EUR"),
        )
        .build()
        .unwrap();
    let _g = capture.set_default();

    chat(request(), false).await.unwrap();
    let span = capture.span("chat llama3.2");
    let cost: f64 = a(&span, "gen_ai.usage.cost.amount")
        .unwrap()
        .parse()
        .unwrap();
    // 26 input tokens at 1 EUR/Mtok + 298 output tokens at 2 EUR/Mtok.
    assert!((cost - (26.0 + 2.0 * 298.0) / 1e6).abs() < 1e-12, "{cost}");
    assert_eq!(
        a(&span, "gen_ai.usage.cost.currency").as_deref(),
        Some("EUR")
    );
}

#[tokio::test]
async fn error_response_sets_error_type_and_leaks_no_content() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    assert!(chat(request(), true).await.is_err());
    let span = capture.span("chat llama3.2");
    assert_eq!(a(&span, "error.type").as_deref(), Some("api_error"));
    assert!(matches!(
        span.status,
        opentelemetry::trace::Status::Error { .. }
    ));
    assert!(a(&span, "gen_ai.usage.input_tokens").is_none());
    let everything = format!(
        "{:?} {:?} {:?}",
        span.attributes,
        span.events,
        capture.logs()
    );
    for secret in ["sky", "one sentence"] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
}

#[tokio::test]
async fn stream_records_ttft_and_final_counts() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    let span = llm_span!(model = "llama3.2", provider = "ollama");
    let mut s = LlmStream::new(stream::iter(chunks()), span);
    let mut text = String::new();
    while let Some(chunk) = s.next().await {
        text.push_str(&chunk.unwrap().message.content);
    }
    drop(s);
    assert_eq!(text, "The sky scatters blue light.");

    let span = capture.span("chat llama3.2");
    assert!(a(&span, "gen_ai.response.time_to_first_chunk").is_some());
    assert_eq!(
        capture.histogram_count("gen_ai.client.operation.time_to_first_chunk"),
        Some(1)
    );
    assert_eq!(a(&span, "gen_ai.usage.input_tokens").as_deref(), Some("26"));
    assert_eq!(
        a(&span, "gen_ai.usage.output_tokens").as_deref(),
        Some("282")
    );
    assert_eq!(
        a(&span, "gen_ai.response.model").as_deref(),
        Some("llama3.2")
    );
    assert!(a(&span, "baker.llm.cancelled").is_none());
}

#[tokio::test]
async fn stream_dropped_half_way_ends_span_with_what_was_seen() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    let span = llm_span!(model = "llama3.2", provider = "ollama");
    let mut s = LlmStream::new(stream::iter(chunks()), span);
    let first = s.next().await.unwrap().unwrap();
    assert_eq!(first.message.content, "The");
    drop(s);

    let span = capture.span("chat llama3.2");
    assert_eq!(a(&span, "baker.llm.cancelled").as_deref(), Some("true"));
    assert_eq!(a(&span, "error.type").as_deref(), Some("cancelled"));
    assert!(a(&span, "gen_ai.response.time_to_first_chunk").is_some());
    assert_eq!(
        a(&span, "gen_ai.response.model").as_deref(),
        Some("llama3.2")
    );
    assert!(
        a(&span, "gen_ai.usage.input_tokens").is_none(),
        "final counts never arrived"
    );
}

#[tokio::test]
async fn request_span_records_request_and_no_content_by_default() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    let req = request();
    let mut s = LlmStream::new(
        stream::iter(chunks()),
        baker_otel_llm::adapters::request_span("ollama", &req),
    );
    while s.next().await.is_some() {}
    drop(s);

    let span = capture.span("chat llama3.2");
    assert_eq!(
        a(&span, "gen_ai.request.temperature").as_deref(),
        Some("0.3")
    );
    assert_eq!(
        a(&span, "gen_ai.request.max_tokens").as_deref(),
        Some("128")
    );
    assert_eq!(
        a(&span, "gen_ai.usage.output_tokens").as_deref(),
        Some("282")
    );
    assert!(
        a(&span, "gen_ai.input.messages").is_none(),
        "capture is off by default"
    );
    assert!(!format!("{:?}", span.attributes).contains("sky"));
}
