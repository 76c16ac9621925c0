//! Issue #14: `#[llm_call]` and `#[tool]` record content automatically — model and parameters
//! from `LlmRequest`, input/output messages from `LlmRequest::input_messages` /
//! `ReportsUsage::output_messages`, tool arguments/results through serde — only when the content
//! policy captures that kind (nothing is serialised otherwise), redacted on the parsed JSON.
//! Error descriptions follow the same policy and `error.type` is bounded.

use baker_otel::testing::Capture;
use baker_otel_llm::content::CapturePolicy;
use baker_otel_llm::{
    llm_call, tool, ClassifyError, LlmRequest, LlmTelemetry, ReportsUsage, Usage,
};
use std::sync::atomic::{AtomicUsize, Ordering};

struct ChatRequest {
    model: &'static str,
    text: String,
    /// How often `input_messages` was asked.
    asked: AtomicUsize,
}

fn request(model: &'static str, text: &str) -> ChatRequest {
    ChatRequest {
        model,
        text: text.into(),
        asked: AtomicUsize::new(0),
    }
}
impl LlmRequest for ChatRequest {
    fn role(&self) -> Option<&str> {
        Some("user")
    }
    fn model(&self) -> Option<&str> {
        Some(self.model)
    }
    fn temperature(&self) -> Option<f64> {
        Some(0.25)
    }
    fn max_tokens(&self) -> Option<u64> {
        Some(256)
    }
    fn input_messages(&self) -> Option<serde_json::Value> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Some(
            serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": self.text}]}]),
        )
    }
}

struct ChatResponse {
    text: String,
    /// How often `output_messages` was asked.
    asked: AtomicUsize,
}
impl ReportsUsage for ChatResponse {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: 10,
            output_tokens: 3,
            ..Default::default()
        })
    }
    fn output_messages(&self) -> Option<serde_json::Value> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Some(
            serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": self.text}]}]),
        )
    }
}

#[derive(Debug)]
struct ProviderError(String);
impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl ClassifyError for ProviderError {
    fn error_type(&self) -> &str {
        &self.0 // free text from the provider: must not become a label
    }
}

#[llm_call(provider = "acme")]
async fn complete(req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
    if req.text.starts_with("fail") {
        return Err(ProviderError(format!(
            "400 invalid request {{\"api_key\": \"sk-proj-AbCdEfGhIjKlMnOpQrSt\"}} for {}",
            req.text
        )));
    }
    Ok(ChatResponse {
        text: "your password=hunter2 is weak".into(),
        asked: AtomicUsize::new(0),
    })
}

#[derive(serde::Serialize)]
struct SearchArgs {
    query: String,
    api_key: String,
}

/// Not `Serialize`: skipped, and the function still compiles.
struct Handle;

#[derive(serde::Serialize)]
struct Hit {
    title: String,
    token: String,
}

#[tool(name = "search")]
fn search(_h: &Handle, args: SearchArgs) -> Result<Vec<Hit>, std::io::Error> {
    Ok(vec![Hit {
        title: format!("about {}", args.query),
        token: "tok-123456".into(),
    }])
}

#[tool(name = "lookup")]
async fn lookup(id: u32, note: &str) -> String {
    format!("order {id}: {note}")
}

fn s(v: Option<opentelemetry::Value>) -> Option<String> {
    v.map(|v| v.to_string())
}

#[tokio::test]
async fn capture_on_records_messages_arguments_and_results_redacted() {
    let capture = Capture::new();
    let _g = capture.set_default();
    LlmTelemetry::builder(capture.telemetry())
        .capture(CapturePolicy::all())
        .bundled_prices(false)
        .build()
        .unwrap();
    let req = request(
        "acme-large",
        "hi, my DB_PASSWORD=s3cr3t and {\"client_secret\": \"abc\"}",
    );
    let resp = complete(&req).await.ok().unwrap();
    assert_eq!(req.asked.load(Ordering::SeqCst), 1);
    assert_eq!(resp.asked.load(Ordering::SeqCst), 1);
    search(
        &Handle,
        SearchArgs {
            query: "tea".into(),
            api_key: "k-999".into(),
        },
    )
    .unwrap();
    lookup(7, "postgres://u:pw1234@db/x").await;

    let chat = capture.span("chat acme-large");
    assert_eq!(
        s(Capture::attr(&chat, "gen_ai.request.model")).as_deref(),
        Some("acme-large")
    );
    assert_eq!(
        s(Capture::attr(&chat, "gen_ai.request.temperature")).as_deref(),
        Some("0.25")
    );
    assert_eq!(
        s(Capture::attr(&chat, "gen_ai.request.max_tokens")).as_deref(),
        Some("256")
    );
    assert_eq!(
        s(Capture::attr(&chat, "baker.llm.role")).as_deref(),
        Some("user")
    );
    let input = s(Capture::attr(&chat, "gen_ai.input.messages")).expect("input recorded");
    let parsed: serde_json::Value = serde_json::from_str(&input).unwrap();
    let content = parsed[0]["parts"][0]["content"].as_str().unwrap();
    assert!(
        content.starts_with("hi, my DB_PASSWORD=[REDACTED]"),
        "{content}"
    );
    assert!(
        !input.contains("s3cr3t") && !input.contains("\"abc\""),
        "{input}"
    );
    let output = s(Capture::attr(&chat, "gen_ai.output.messages")).expect("output recorded");
    assert!(
        output.contains("password=[REDACTED]") && !output.contains("hunter2"),
        "{output}"
    );

    let tool = capture.span("execute_tool search");
    let args = s(Capture::attr(&tool, "gen_ai.tool.call.arguments")).expect("arguments");
    assert_eq!(args, r#"{"query":"tea","api_key":"[REDACTED]"}"#);
    let result = s(Capture::attr(&tool, "gen_ai.tool.call.result")).expect("result");
    assert_eq!(result, r#"[{"title":"about tea","token":"[REDACTED]"}]"#);

    let lookup = capture.span("execute_tool lookup");
    let args = s(Capture::attr(&lookup, "gen_ai.tool.call.arguments")).unwrap();
    assert_eq!(args, r#"{"id":7,"note":"postgres://u:[REDACTED]@db/x"}"#);
    assert!(s(Capture::attr(&lookup, "gen_ai.tool.call.result"))
        .unwrap()
        .contains("[REDACTED]"));
}

#[tokio::test]
async fn capture_off_serialises_nothing_and_records_the_error_type_only() {
    let capture = Capture::new();
    let _g = capture.set_default();
    LlmTelemetry::builder(capture.telemetry())
        .capture(CapturePolicy::none())
        .bundled_prices(false)
        .build()
        .unwrap();
    let ok = request("acme-off", "hello");
    let resp = complete(&ok).await.ok().unwrap();
    assert_eq!(
        ok.asked.load(Ordering::SeqCst),
        0,
        "input messages never built"
    );
    assert_eq!(
        resp.asked.load(Ordering::SeqCst),
        0,
        "output messages never built"
    );
    let bad = request("acme-off", "fail ?key=AIzaSyD-secret");
    assert!(complete(&bad).await.is_err());
    search(
        &Handle,
        SearchArgs {
            query: "tea".into(),
            api_key: "k".into(),
        },
    )
    .unwrap();
    let spans = capture.spans();
    for sp in &spans {
        for key in [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
        ] {
            assert!(Capture::attr(sp, key).is_none(), "{key} on {}", sp.name);
        }
    }
    let failed = spans
        .iter()
        .find(|s| {
            s.name == "chat acme-off"
                && matches!(s.status, opentelemetry::trace::Status::Error { .. })
        })
        .expect("the failed call");
    assert_eq!(
        failed.status,
        opentelemetry::trace::Status::error(""),
        "no description"
    );
    assert_eq!(
        s(Capture::attr(failed, "error.type")).as_deref(),
        Some("_OTHER"),
        "free text is not a label"
    );
    let everything = format!("{spans:?}{:?}", capture.json_lines());
    assert!(
        !everything.contains("sk-proj-AbCdEfGhIjKlMnOpQrSt") && !everything.contains("AIzaSyD")
    );
}

#[tokio::test]
async fn with_capture_on_the_error_description_is_redacted() {
    let capture = Capture::new();
    let _g = capture.set_default();
    LlmTelemetry::builder(capture.telemetry())
        .capture(CapturePolicy::all())
        .bundled_prices(false)
        .build()
        .unwrap();
    let bad = request(
        "acme-err",
        "fail https://api.example.com/v1?key=AIzaSyD-secret-value",
    );
    assert!(complete(&bad).await.is_err());
    let span = capture.span("chat acme-err");
    let opentelemetry::trace::Status::Error { description } = &span.status else {
        panic!("{:?}", span.status)
    };
    assert!(description.contains("400 invalid request"), "{description}");
    assert!(
        !description.contains("sk-proj-AbCdEfGhIjKlMnOpQrSt"),
        "{description}"
    );
    assert!(
        !description.contains("AIzaSyD-secret-value"),
        "{description}"
    );
}

#[test]
fn ten_thousand_error_strings_make_bounded_series() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .bundled_prices(false)
        .build()
        .unwrap();
    capture.in_scope(|| {
        for i in 0..10_000 {
            let span = baker_otel_llm::llm_span!(model = "m-errors", provider = "acme");
            span.record_error(&format!("code_{i}"));
            let tool = baker_otel_llm::tool_span!("t-errors");
            tool.record_error(&format!("timeout after {i} ms"));
        }
    });
    let prom = capture.prometheus_text();
    let errors: std::collections::HashSet<&str> = prom
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once("error_type=\"")
                .map(|(_, r)| r.split('"').next().unwrap())
        })
        .collect();
    assert!(
        errors.contains("_OTHER"),
        "free text and values beyond the bound"
    );
    assert!(
        errors.len() <= baker_otel_llm::MAX_ERROR_TYPES + 1,
        "{} distinct error types",
        errors.len()
    );
    assert!(!prom.contains("otel_metric_overflow"));
}
