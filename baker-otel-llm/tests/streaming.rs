//! Streaming: time to first chunk, final usage at the end, cancellation on early drop.

use baker_otel::testing::Capture;
use baker_otel_llm::{llm_span, LlmStream, LlmTelemetry, ReportsUsage, Usage};
use futures_util::{stream, StreamExt};

#[derive(Debug)]
struct Chunk {
    text: &'static str,
    usage: Option<Usage>,
}
impl ReportsUsage for Chunk {
    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

fn chunks() -> Vec<Chunk> {
    vec![
        Chunk {
            text: "Hel",
            usage: Some(Usage {
                input_tokens: 40,
                ..Default::default()
            }),
        },
        Chunk {
            text: "lo",
            usage: None,
        },
        Chunk {
            text: "",
            usage: Some(Usage {
                input_tokens: 40,
                output_tokens: 12,
                ..Default::default()
            }),
        },
    ]
}

#[tokio::test]
async fn ttft_and_final_usage_recorded() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();
    let span = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
    let mut s = LlmStream::new(stream::iter(chunks()), span);
    let mut text = String::new();
    while let Some(c) = s.next().await {
        text.push_str(c.text);
    }
    assert_eq!(text, "Hello");
    drop(s);
    let chat = capture.span("chat claude-sonnet-4-5");
    assert!(Capture::attr(&chat, "gen_ai.response.time_to_first_chunk").is_some());
    assert_eq!(
        Capture::attr(&chat, "gen_ai.usage.output_tokens")
            .unwrap()
            .to_string(),
        "12"
    );
    assert_eq!(
        Capture::attr(&chat, "gen_ai.usage.input_tokens")
            .unwrap()
            .to_string(),
        "40"
    );
    assert!(Capture::attr(&chat, "baker.llm.cancelled").is_none());
    assert!(Capture::attr(&chat, "error.type").is_none());
    assert_eq!(
        capture.histogram_count("gen_ai.client.operation.time_to_first_chunk"),
        Some(1)
    );
    assert_eq!(
        capture.metric_total("gen_ai.client.token.usage"),
        Some(52.0)
    );
}

#[tokio::test]
async fn early_drop_marks_cancelled() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();
    let span = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
    let mut s = LlmStream::new(stream::iter(chunks()), span);
    let first = s.next().await.unwrap();
    assert_eq!(first.text, "Hel");
    drop(s);
    let chat = capture.span("chat claude-sonnet-4-5");
    assert_eq!(
        Capture::attr(&chat, "baker.llm.cancelled")
            .unwrap()
            .to_string(),
        "true"
    );
    assert_eq!(
        Capture::attr(&chat, "error.type").unwrap().to_string(),
        "cancelled"
    );
    assert_eq!(
        Capture::attr(&chat, "gen_ai.usage.input_tokens")
            .unwrap()
            .to_string(),
        "40",
        "partial usage kept"
    );
    assert!(Capture::attr(&chat, "gen_ai.response.time_to_first_chunk").is_some());
    let prom = capture.prometheus_text();
    assert!(
        prom.lines().any(
            |l| l.starts_with("gen_ai_client_operation_duration_seconds_count")
                && l.contains("error_type=\"cancelled\"")
        ),
        "{prom}"
    );
}
