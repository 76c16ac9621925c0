//! async-openai adapter (feature `async-openai`) on recorded OpenAI payloads (tests/fixtures/openai):
//! `#[llm_call]` and `LlmStream::new` with no glue record tokens (cached, reasoning), cost,
//! response id/model, finish reasons, time to first chunk; a stream dropped half-way ends the
//! span with what was seen; an API error sets `error.type` and leaks no content.
#![cfg(feature = "async-openai")]

use async_openai::error::{ApiErrorResponse, OpenAIError, WrappedError};
use async_openai::types::chat::{
    CreateChatCompletionRequest, CreateChatCompletionResponse, CreateChatCompletionStreamResponse,
};
use baker_otel::testing::Capture;
use baker_otel::testing::CapturedSpan as SpanData;
use baker_otel_llm::pricing::Pricing;
use baker_otel_llm::{
    llm_call, llm_span, ClassifyError, LlmRequest, LlmStream, LlmTelemetry, ReportsUsage, Usage,
};
use futures_util::{stream, StreamExt};

const REQUEST: &str = include_str!("fixtures/openai/chat_request.json");
const COMPLETION: &str = include_str!("fixtures/openai/chat_completion.json");
const STREAM: &str = include_str!("fixtures/openai/chat_stream.jsonl");
const RATE_LIMIT: &str = include_str!("fixtures/openai/error_rate_limit.json");

fn request() -> CreateChatCompletionRequest {
    serde_json::from_str(REQUEST).unwrap()
}
fn chunks() -> Vec<Result<CreateChatCompletionStreamResponse, OpenAIError>> {
    STREAM
        .lines()
        .map(|l| Ok(serde_json::from_str(l).unwrap()))
        .collect()
}
fn rate_limited() -> OpenAIError {
    let w: WrappedError = serde_json::from_str(RATE_LIMIT).unwrap();
    OpenAIError::ApiError(ApiErrorResponse {
        status_code: http::StatusCode::TOO_MANY_REQUESTS,
        api_error: w.error,
    })
}

fn a(span: &SpanData, k: &str) -> Option<String> {
    Capture::attr(span, k).map(|v| v.to_string())
}

/// What the fixture request gives a `chat` span: sampling, role, tokens, and the captured input
/// messages exactly as `LlmRequest::input_messages` shapes them (capture on for input).
fn assert_request_recorded(chat: &SpanData, req: &CreateChatCompletionRequest, input_tokens: &str) {
    assert_eq!(
        a(chat, "gen_ai.request.temperature").as_deref(),
        Some("0.7")
    );
    assert_eq!(a(chat, "gen_ai.request.max_tokens").as_deref(), Some("512"));
    assert_eq!(a(chat, "baker.llm.role").as_deref(), Some("user"));
    assert_eq!(
        a(chat, "gen_ai.usage.input_tokens").as_deref(),
        Some(input_tokens)
    );
    let input: serde_json::Value =
        serde_json::from_str(&a(chat, "gen_ai.input.messages").expect("input captured")).unwrap();
    assert_eq!(input, req.input_messages().unwrap());
}

fn expected_cost(model: &str, u: &Usage) -> f64 {
    Pricing::builder()
        .build()
        .unwrap()
        .cost("openai", model, u)
        .expect("genai-prices knows this OpenAI model")
        .amount
}

/// Stands in for `client.chat().create(req)`: returns the recorded response or error.
#[llm_call(provider = "openai", model = req.model.clone())]
async fn create(
    req: CreateChatCompletionRequest,
    fail: bool,
) -> Result<CreateChatCompletionResponse, OpenAIError> {
    if fail {
        return Err(rate_limited());
    }
    Ok(serde_json::from_str(COMPLETION).unwrap())
}

#[test]
fn request_reports_model_sampling_and_genai_input_messages() {
    let req = request();
    assert_eq!(req.model(), Some("gpt-4o"));
    assert_eq!(req.temperature(), Some(0.7));
    assert_eq!(req.max_tokens(), Some(512));
    assert_eq!(req.role(), Some("user"));
    let msgs = req.input_messages().unwrap();
    let expected = serde_json::json!([
        {"role": "system", "parts": [{"type": "text", "content": "You are a terse weather assistant."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What's the weather like in Boston today?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_abc123",
            "name": "get_current_weather", "arguments": {"location": "Boston, MA"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_abc123", "result": "22C, sunny"}]},
        {"role": "user", "parts": [{"type": "text", "content": "And what should I wear?"}, {"type": "image_url"}]}
    ]);
    assert_eq!(msgs, expected);
}

#[test]
fn response_reports_usage_breakdown_and_output_messages() {
    let resp: CreateChatCompletionResponse = serde_json::from_str(COMPLETION).unwrap();
    assert_eq!(
        resp.usage(),
        Some(Usage {
            input_tokens: 2006,
            output_tokens: 300,
            cache_read_input_tokens: 1920,
            cache_creation_input_tokens: 0,
            reasoning_output_tokens: 64,
        })
    );
    assert_eq!(resp.finish_reasons(), ["stop"]);
    assert_eq!(
        resp.output_messages().unwrap(),
        serde_json::json!([{"role": "assistant", "finish_reason": "stop", "parts": [
            {"type": "text", "content": "It is 22C and sunny in Boston: a t-shirt and sunglasses will do."}]}])
    );
    assert_eq!(rate_limited().error_type(), "rate_limit_exceeded");
}

#[tokio::test]
async fn llm_call_records_tokens_cost_and_response_without_glue() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    let resp = create(request(), false).await.unwrap();
    assert_eq!(resp.id, "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG");

    let chat = capture.span("chat gpt-4o");
    assert_eq!(a(&chat, "gen_ai.provider.name").as_deref(), Some("openai"));
    assert_eq!(
        a(&chat, "gen_ai.usage.input_tokens").as_deref(),
        Some("2006")
    );
    assert_eq!(
        a(&chat, "gen_ai.usage.output_tokens").as_deref(),
        Some("300")
    );
    assert_eq!(
        a(&chat, "gen_ai.usage.cache_read.input_tokens").as_deref(),
        Some("1920")
    );
    assert_eq!(
        a(&chat, "gen_ai.usage.reasoning.output_tokens").as_deref(),
        Some("64")
    );
    assert_eq!(
        a(&chat, "gen_ai.response.id").as_deref(),
        Some("chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG")
    );
    assert_eq!(
        a(&chat, "gen_ai.response.model").as_deref(),
        Some("gpt-4o-2024-08-06")
    );
    assert_eq!(
        a(&chat, "gen_ai.response.finish_reasons").as_deref(),
        Some("[\"stop\"]")
    );
    assert_eq!(a(&chat, "baker.llm.role").as_deref(), Some("user"));
    assert!(a(&chat, "error.type").is_none());

    // Cost: the span's amount is genai-prices' price of this usage, cached tokens included
    // (cheaper than the same tokens uncached).
    let usage = resp.usage().unwrap();
    let cost: f64 = a(&chat, "gen_ai.usage.cost.amount")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (cost - expected_cost("gpt-4o", &usage)).abs() < 1e-12,
        "{cost}"
    );
    let uncached = Usage {
        cache_read_input_tokens: 0,
        ..usage
    };
    assert!(cost < expected_cost("gpt-4o", &uncached));
    assert_eq!(
        a(&chat, "gen_ai.usage.cost.currency").as_deref(),
        Some("USD")
    );
    assert_eq!(
        capture.metric_total("gen_ai.client.token.usage"),
        Some(2306.0)
    );
}

#[tokio::test]
async fn api_error_sets_error_type_and_leaks_no_content() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    let err = create(request(), true).await.unwrap_err();
    assert_eq!(err.error_type(), "rate_limit_exceeded");

    let chat = capture.span("chat gpt-4o");
    assert_eq!(
        a(&chat, "error.type").as_deref(),
        Some("rate_limit_exceeded")
    );
    assert!(matches!(
        chat.status,
        opentelemetry::trace::Status::Error { .. }
    ));
    assert!(a(&chat, "gen_ai.usage.input_tokens").is_none());
    // Content capture is off by default: no prompt or message text on the span or its events.
    let everything = format!(
        "{:?} {:?} {:?}",
        chat.attributes,
        chat.events,
        capture.logs()
    );
    for secret in ["Boston", "terse weather", "22C", "wear"] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
    assert!(a(&chat, "gen_ai.input.messages").is_none());
    assert!(a(&chat, "gen_ai.output.messages").is_none());
}

#[tokio::test]
async fn stream_records_ttft_final_usage_id_and_finish_reason() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    let span = llm_span!(model = "gpt-4o-mini", provider = "openai");
    let mut s = LlmStream::new(stream::iter(chunks()), span);
    let mut text = String::new();
    while let Some(chunk) = s.next().await {
        for c in chunk.unwrap().choices {
            text.push_str(c.delta.content.as_deref().unwrap_or(""));
        }
    }
    drop(s);
    assert_eq!(text, "Hello there!");

    let chat = capture.span("chat gpt-4o-mini");
    assert!(a(&chat, "gen_ai.response.time_to_first_chunk").is_some());
    assert_eq!(
        capture.histogram_count("gen_ai.client.operation.time_to_first_chunk"),
        Some(1)
    );
    assert_eq!(
        a(&chat, "gen_ai.usage.input_tokens").as_deref(),
        Some("1200")
    );
    assert_eq!(
        a(&chat, "gen_ai.usage.output_tokens").as_deref(),
        Some("40")
    );
    assert_eq!(
        a(&chat, "gen_ai.usage.cache_read.input_tokens").as_deref(),
        Some("1024")
    );
    assert_eq!(
        a(&chat, "gen_ai.response.id").as_deref(),
        Some("chatcmpl-123")
    );
    assert_eq!(
        a(&chat, "gen_ai.response.model").as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(
        a(&chat, "gen_ai.response.finish_reasons").as_deref(),
        Some("[\"stop\"]")
    );
    let usage = Usage {
        input_tokens: 1200,
        output_tokens: 40,
        cache_read_input_tokens: 1024,
        ..Default::default()
    };
    let cost: f64 = a(&chat, "gen_ai.usage.cost.amount")
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - expected_cost("gpt-4o-mini", &usage)).abs() < 1e-12);
    assert!(a(&chat, "error.type").is_none());
    assert!(a(&chat, "baker.llm.cancelled").is_none());
}

#[tokio::test]
async fn stream_dropped_half_way_ends_span_with_what_was_seen() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    let span = llm_span!(model = "gpt-4o-mini", provider = "openai");
    let mut s = LlmStream::new(stream::iter(chunks()), span);
    let _ = s.next().await.unwrap().unwrap();
    let second = s.next().await.unwrap().unwrap();
    assert_eq!(second.choices[0].delta.content.as_deref(), Some("Hello"));
    drop(s); // the consumer gives up before the finish and usage chunks

    let chat = capture.span("chat gpt-4o-mini");
    assert_eq!(a(&chat, "baker.llm.cancelled").as_deref(), Some("true"));
    assert_eq!(a(&chat, "error.type").as_deref(), Some("cancelled"));
    assert!(a(&chat, "gen_ai.response.time_to_first_chunk").is_some());
    assert_eq!(
        a(&chat, "gen_ai.response.id").as_deref(),
        Some("chatcmpl-123")
    );
    assert!(a(&chat, "gen_ai.response.finish_reasons").is_none());
    assert!(
        a(&chat, "gen_ai.usage.input_tokens").is_none(),
        "no usage chunk was seen"
    );
    assert!(!format!("{:?}", chat.attributes).contains("Hello"));
}

#[tokio::test]
async fn request_span_records_request_and_captured_input_for_streams() {
    let capture = Capture::new();
    let env = baker_otel::config::EnvSource::from_pairs([("BAKER_LLM_CAPTURE", "input")]);
    LlmTelemetry::builder(capture.telemetry())
        .env_source(env)
        .build()
        .unwrap();
    let _g = capture.set_default();

    let req = request();
    let mut s = LlmStream::new(
        stream::iter(chunks()),
        baker_otel_llm::adapters::request_span("openai", &req),
    );
    while s.next().await.is_some() {}
    drop(s);

    let chat = capture.span("chat gpt-4o");
    assert_eq!(a(&chat, "gen_ai.provider.name").as_deref(), Some("openai"));
    assert_request_recorded(&chat, &req, "1200");
    assert!(
        a(&chat, "gen_ai.output.messages").is_none(),
        "output not enabled"
    );
}

#[tokio::test]
async fn stream_error_item_sets_error_type_not_cancelled() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    let mut items = chunks();
    items.truncate(2);
    items.push(Err(OpenAIError::StreamError(Box::new(
        async_openai::error::StreamError::EventStream("connection reset".into()),
    ))));
    let span = llm_span!(model = "gpt-4o-mini", provider = "openai");
    let mut s = LlmStream::classified(stream::iter(items), span);
    let mut seen = 0;
    while let Some(Ok(_)) = s.next().await {
        seen += 1;
    }
    drop(s); // the consumer stops at the error
    assert_eq!(seen, 2);

    let chat = capture.span("chat gpt-4o-mini");
    assert_eq!(a(&chat, "error.type").as_deref(), Some("stream_error"));
    assert!(a(&chat, "baker.llm.cancelled").is_none());
    assert_eq!(
        a(&chat, "gen_ai.response.id").as_deref(),
        Some("chatcmpl-123")
    );
    let prom = capture.prometheus_text();
    assert!(
        prom.lines().any(
            |l| l.starts_with("gen_ai_client_operation_duration_seconds_count")
                && l.contains("error_type=\"stream_error\"")
        ),
        "{prom}"
    );
}

/// No `model = …` and no glue: with #14's plumbing, `#[llm_call]` reads model, sampling and the
/// prompting role from the async-openai request, and — with capture on — records the request's and
/// the response's messages.
#[llm_call(provider = "openai")]
async fn create_zero_glue(
    req: &CreateChatCompletionRequest,
) -> Result<CreateChatCompletionResponse, OpenAIError> {
    let _ = req;
    Ok(serde_json::from_str(COMPLETION).unwrap())
}

#[tokio::test]
async fn llm_call_reads_the_request_and_captures_messages_without_glue() {
    let capture = Capture::new();
    let env = baker_otel::config::EnvSource::from_pairs([("BAKER_LLM_CAPTURE", "input,output")]);
    LlmTelemetry::builder(capture.telemetry())
        .env_source(env)
        .build()
        .unwrap();
    let _g = capture.set_default();

    let req = request();
    let resp = create_zero_glue(&req).await.unwrap();

    let chat = capture.span("chat gpt-4o");
    assert_eq!(a(&chat, "gen_ai.request.model").as_deref(), Some("gpt-4o"));
    assert_request_recorded(&chat, &req, "2006");
    let output: serde_json::Value =
        serde_json::from_str(&a(&chat, "gen_ai.output.messages").expect("output captured"))
            .unwrap();
    assert_eq!(output, resp.output_messages().unwrap());
}

#[tokio::test]
async fn llm_call_without_capture_records_no_messages() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();

    create_zero_glue(&request()).await.unwrap();

    let chat = capture.span("chat gpt-4o");
    assert_eq!(a(&chat, "gen_ai.request.model").as_deref(), Some("gpt-4o"));
    assert!(a(&chat, "gen_ai.input.messages").is_none());
    assert!(a(&chat, "gen_ai.output.messages").is_none());
}
