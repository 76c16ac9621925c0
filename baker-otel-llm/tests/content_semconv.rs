//! Content capture (off by default, per category, redaction, truncation) and the semconv switch.

use baker_otel::config::EnvSource;
use baker_otel::testing::Capture;
use baker_otel_llm::content::{CapturePolicy, ContentKind};
use baker_otel_llm::{llm_span, tool_span, LlmTelemetry, Usage};

const SECRET: &str = "sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn record_everything() {
    let llm = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
    llm.record_input_messages(&format!(
        r#"[{{"role":"user","content":"my key is {SECRET} {}"}}]"#,
        "x".repeat(500)
    ));
    llm.record_output_messages(r#"[{"role":"assistant","content":"ok"}]"#);
    llm.record_system_instructions("You are helpful. Authorization: Bearer abcdefghijklmnop");
    llm.record_usage(Usage {
        input_tokens: 5,
        output_tokens: 1,
        cache_creation_input_tokens: 2,
        ..Default::default()
    });
    drop(llm);
    let t = tool_span!("search");
    t.record_arguments(r#"{"q":"x","api_key=supersecretvalue"}"#);
    t.record_result("result");
}

fn s(v: Option<opentelemetry::Value>) -> Option<String> {
    v.map(|v| v.to_string())
}

#[test]
fn content_absent_by_default_and_per_category_when_enabled() {
    let capture = Capture::new();
    // Env: only input and tool arguments, 64-byte values. Default semconv.
    let env = EnvSource::from_pairs([
        ("BAKER_LLM_CAPTURE", "input,tool_arguments"),
        ("BAKER_LLM_CAPTURE_MAX_BYTES", "64"),
    ]);
    LlmTelemetry::builder(capture.telemetry())
        .env_source(env)
        .build()
        .unwrap();
    capture.in_scope(record_everything);
    let chat = capture.span("chat claude-sonnet-4-5");
    let input = s(Capture::attr(&chat, "gen_ai.input.messages")).expect("input captured");
    assert!(!input.contains(SECRET), "{input}");
    assert!(input.contains("[REDACTED]"), "{input}");
    assert!(input.contains("…[truncated"), "{input}");
    assert!(input.len() < 64 + 40, "{}", input.len());
    assert!(
        Capture::attr(&chat, "gen_ai.output.messages").is_none(),
        "output not enabled"
    );
    assert!(
        Capture::attr(&chat, "gen_ai.system_instructions").is_none(),
        "system not enabled"
    );
    let tool = capture.span("execute_tool search");
    let args = s(Capture::attr(&tool, "gen_ai.tool.call.arguments")).unwrap();
    assert!(!args.contains("supersecretvalue"), "{args}");
    assert!(Capture::attr(&tool, "gen_ai.tool.call.result").is_none());
    // v1.41 cache attribute name
    assert_eq!(
        s(Capture::attr(
            &chat,
            "gen_ai.usage.cache_creation.input_tokens"
        ))
        .as_deref(),
        Some("2")
    );
    assert!(Capture::attr(&chat, "gen_ai.usage.cache_write.input_tokens").is_none());
    assert_eq!(
        capture.histogram_count("gen_ai.client.operation.duration"),
        Some(1)
    );
}

#[test]
fn default_policy_captures_nothing() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .env_source(EnvSource::from_pairs::<&str, &str>([]))
        .build()
        .unwrap();
    capture.in_scope(record_everything);
    let chat = capture.span("chat claude-sonnet-4-5");
    for k in [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
    ] {
        assert!(Capture::attr(&chat, k).is_none(), "{k}");
    }
    let tool = capture.span("execute_tool search");
    assert!(Capture::attr(&tool, "gen_ai.tool.call.arguments").is_none());
    assert!(Capture::attr(&tool, "gen_ai.tool.call.result").is_none());
}

#[test]
fn global_switch_enables_all_and_semconv_switch_renames() {
    let capture = Capture::new();
    let env = EnvSource::from_pairs([
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true"),
        (
            "OTEL_SEMCONV_STABILITY_OPT_IN",
            "http,gen_ai_latest_experimental",
        ),
    ]);
    LlmTelemetry::builder(capture.telemetry())
        .env_source(env)
        .build()
        .unwrap();
    capture.in_scope(|| {
        record_everything();
        let llm = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
        llm.record_time_to_first_chunk(std::time::Duration::from_millis(5));
    });
    let chat = capture.span("chat claude-sonnet-4-5");
    for k in [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
    ] {
        let v = s(Capture::attr(&chat, k)).unwrap_or_else(|| panic!("{k} captured"));
        assert!(
            !v.contains("abcdefghijklmnop") && !v.contains(SECRET),
            "{v}"
        );
    }
    assert!(Capture::attr(
        &capture.span("execute_tool search"),
        "gen_ai.tool.call.result"
    )
    .is_some());
    // latest names
    assert_eq!(
        s(Capture::attr(
            &chat,
            "gen_ai.usage.cache_write.input_tokens"
        ))
        .as_deref(),
        Some("2")
    );
    assert!(Capture::attr(&chat, "gen_ai.usage.cache_creation.input_tokens").is_none());
    assert_eq!(
        capture.histogram_count("gen_ai.client.inference.duration"),
        Some(2)
    );
    assert_eq!(
        capture.histogram_count("gen_ai.client.operation.duration"),
        None
    );
    assert_eq!(
        capture.histogram_count("gen_ai.client.inference.time_to_first_chunk"),
        Some(1)
    );
}

#[test]
fn builder_policy_wins_over_env() {
    let capture = Capture::new();
    let env =
        EnvSource::from_pairs([("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")]);
    LlmTelemetry::builder(capture.telemetry())
        .env_source(env)
        .capture(CapturePolicy::none().capture(ContentKind::Output, true))
        .build()
        .unwrap();
    capture.in_scope(record_everything);
    let chat = capture.span("chat claude-sonnet-4-5");
    assert!(Capture::attr(&chat, "gen_ai.input.messages").is_none());
    assert!(Capture::attr(&chat, "gen_ai.output.messages").is_some());
}
