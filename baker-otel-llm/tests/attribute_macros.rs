//! #[llm_call] / #[tool] on sync and async fns and methods, Result and plain returns.

use baker_otel::testing::Capture;
use baker_otel_llm::{llm_call, tool, ClassifyError, LlmTelemetry, ReportsUsage, Usage};

#[derive(Debug)]
struct Reply {
    id: String,
    tokens: (u64, u64),
}
impl ReportsUsage for Reply {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: self.tokens.0,
            output_tokens: self.tokens.1,
            ..Default::default()
        })
    }
    fn response_id(&self) -> Option<&str> {
        Some(&self.id)
    }
    fn finish_reasons(&self) -> Vec<&str> {
        vec!["stop"]
    }
}

#[derive(Debug)]
enum LlmError {
    RateLimited,
}
impl std::fmt::Display for LlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rate limited, retry later")
    }
}
impl ClassifyError for LlmError {
    fn error_type(&self) -> &str {
        "rate_limited"
    }
}

#[derive(Debug)]
struct ToolError;

struct Client {
    model: String,
}

impl Client {
    #[llm_call(provider = "openai", model = self.model.clone(), role = "assistant")]
    async fn complete(&self, prompt: &str) -> Result<Reply, LlmError> {
        if prompt.is_empty() {
            return Err(LlmError::RateLimited);
        }
        let n = prompt.len() as u64;
        Ok(Reply {
            id: "resp-1".into(),
            tokens: (n, 2),
        })
    }

    #[llm_call(model = "gpt-4o", provider = "openai")]
    fn complete_sync(&self, n: u64) -> Reply {
        Reply {
            id: "resp-2".into(),
            tokens: (n, 1),
        }
    }
}

#[tool(name = "web_search", call_id = "call_9")]
async fn web_search(q: &str) -> Result<Vec<String>, ToolError> {
    if q == "fail" {
        return Err(ToolError);
    }
    Ok(vec![q.to_owned()])
}

#[tool(name = "sum")]
fn sum(a: u32, b: u32) -> u32 {
    a + b
}

/// A return type that does not implement ReportsUsage still compiles.
#[llm_call(model = "gpt-4o", provider = "openai")]
fn untyped() -> String {
    "plain".into()
}

fn a(span: &baker_otel::testing::CapturedSpan, k: &str) -> Option<String> {
    Capture::attr(span, k).map(|v| v.to_string())
}

#[tokio::test]
async fn attribute_macros_record_spans_usage_and_errors() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry()).build().unwrap();
    let _g = capture.set_default();
    let client = Client {
        model: "gpt-4o-mini".into(),
    };

    let ok = client.complete("hello").await.unwrap();
    assert_eq!(ok.tokens, (5, 2));
    assert!(client.complete("").await.is_err());
    assert_eq!(client.complete_sync(9).tokens, (9, 1));
    assert_eq!(web_search("rust").await.unwrap(), vec!["rust".to_string()]);
    assert!(web_search("fail").await.is_err());
    assert_eq!(sum(2, 3), 5);
    assert_eq!(untyped(), "plain");

    let spans = capture.spans();
    let mini: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "chat gpt-4o-mini")
        .collect();
    assert_eq!(
        mini.len(),
        2,
        "dynamic model name via otel.name: {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let good = mini.iter().find(|s| a(s, "error.type").is_none()).unwrap();
    assert_eq!(a(good, "gen_ai.usage.input_tokens").as_deref(), Some("5"));
    assert_eq!(a(good, "gen_ai.response.id").as_deref(), Some("resp-1"));
    assert_eq!(a(good, "baker.llm.role").as_deref(), Some("assistant"));
    assert!(
        a(good, "gen_ai.usage.cost.amount").is_some(),
        "gpt-4o-mini is priced"
    );
    let bad = mini.iter().find(|s| a(s, "error.type").is_some()).unwrap();
    assert_eq!(a(bad, "error.type").as_deref(), Some("rate_limited"));
    assert_eq!(
        bad.status,
        opentelemetry::trace::Status::error(""),
        "content capture is off: the error type only, not its text"
    );

    let sync: Vec<_> = spans.iter().filter(|s| s.name == "chat gpt-4o").collect();
    assert_eq!(sync.len(), 2);
    assert!(sync
        .iter()
        .any(|s| a(s, "gen_ai.usage.input_tokens").as_deref() == Some("9")));
    assert!(
        sync.iter()
            .any(|s| a(s, "gen_ai.usage.input_tokens").is_none()),
        "untyped(): no usage"
    );

    let tools: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "execute_tool web_search")
        .collect();
    assert_eq!(tools.len(), 2);
    assert!(tools
        .iter()
        .all(|t| a(t, "gen_ai.tool.call.id").as_deref() == Some("call_9")));
    let failed = tools.iter().find(|t| a(t, "error.type").is_some()).unwrap();
    assert_eq!(
        a(failed, "error.type").as_deref(),
        Some("ToolError"),
        "type name fallback"
    );
    assert_eq!(
        capture.span("execute_tool sum").span_kind,
        opentelemetry::trace::SpanKind::Internal
    );
    assert_eq!(capture.histogram_count("baker.tool.duration"), Some(3));
    let prom = capture.prometheus_text();
    assert!(
        prom.lines()
            .any(|l| l.starts_with("baker_tool_duration_seconds_count")
                && l.contains("error_type=\"ToolError\"")),
        "{prom}"
    );
}

/// A request type that knows its prompting role: `#[llm_call]` records it without `role = …`.
struct ChatRequest {
    last_role: &'static str,
}
impl baker_otel_llm::LlmRequest for ChatRequest {
    fn role(&self) -> Option<&str> {
        Some(self.last_role)
    }
}

#[llm_call(model = "gpt-4o")]
fn derived_role(_client: u8, req: &ChatRequest) -> Reply {
    Reply {
        id: format!("r-{}", req.last_role),
        tokens: (1, 1),
    }
}

#[llm_call(model = "gpt-4o", role = "system")]
fn given_role(req: &ChatRequest) -> Reply {
    Reply {
        id: format!("g-{}", req.last_role),
        tokens: (1, 1),
    }
}

#[llm_call(model = "gpt-4o")]
fn no_role(prompt: &str) -> Reply {
    Reply {
        id: format!("n-{}", prompt.len()),
        tokens: (1, 1),
    }
}

#[test]
fn role_is_derived_from_the_request_unless_given() {
    let capture = Capture::new();
    capture.in_scope(|| {
        derived_role(0, &ChatRequest { last_role: "tool" });
        given_role(&ChatRequest { last_role: "tool" });
        no_role("hi");
    });
    let spans = capture.spans();
    let role_of = |id: &str| {
        let s = spans
            .iter()
            .find(|s| a(s, "gen_ai.response.id").as_deref() == Some(id))
            .unwrap_or_else(|| panic!("span with response id {id}"));
        a(s, "baker.llm.role")
    };
    assert_eq!(
        role_of("r-tool").as_deref(),
        Some("tool"),
        "derived from LlmRequest"
    );
    assert_eq!(role_of("g-tool").as_deref(), Some("system"), "given wins");
    assert_eq!(role_of("n-2"), None, "nothing to derive from");
}
