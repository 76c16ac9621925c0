//! The span tree, metrics and job log of a simulated 3-iteration agent run, checked in memory
//! (baker_otel::testing::Capture) and over OTLP/gRPC to a real receiver.

mod common;

use baker_otel::testing::Capture;
use baker_otel_llm::LlmTelemetry;
use common::*;
use fake_opentelemetry_collector::FakeCollectorServer;
use opentelemetry::trace::SpanKind;
use std::time::Duration;

/// The fake collector renders attribute values as `Some(AnyValue { value: Some(IntValue(3)) })`.
fn otlp_attr(s: &fake_opentelemetry_collector::ExportedSpan, key: &str, want: &str) {
    let v = s
        .attributes
        .get(key)
        .unwrap_or_else(|| panic!("{} has no {key}", s.name));
    assert!(
        v.contains(&format!("(\"{want}\")")) || v.contains(&format!("({want})")),
        "{key}: {v} != {want}"
    );
}

fn attr(span: &baker_otel::testing::CapturedSpan, key: &str) -> String {
    Capture::attr(span, key)
        .map(|v| v.to_string())
        .unwrap_or_else(|| panic!("{} has no {key}: {:?}", span.name, span.attributes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_iteration_run_in_memory_and_over_otlp() {
    let capture = Capture::new();
    let llm = LlmTelemetry::builder(capture.telemetry())
        .build()
        .expect("install");
    let pricing = llm.pricing().expect("pricing on").clone();
    let c1 = pricing
        .cost("anthropic", MODEL, &usage1())
        .expect("priced")
        .amount;
    let c2 = pricing
        .cost("anthropic", MODEL, &usage2())
        .expect("priced")
        .amount;
    // (the cached fast path is checked against the exact genai-prices calculator in unit tests)
    assert!(c1 > 0.0 && c2 > c1, "{c1} {c2}");

    // ---- in memory ----
    let totals = {
        let _g = capture.set_default();
        simulate_run()
    };
    assert_eq!(totals.usage.input_tokens, 3000);
    assert_eq!(totals.usage.output_tokens, 400);
    assert_eq!(totals.calls, 2);
    assert!((totals.cost().unwrap().amount - (c1 + c2)).abs() < 1e-12);

    let spans = capture.spans();
    let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();
    let count = |n: &str| names.iter().filter(|x| *x == n).count();
    assert_eq!(count("chat claude-sonnet-4-5"), 2, "{names:?}");
    assert_eq!(count("baker.agent.iteration"), 3);
    assert_eq!(count("execute_tool web_search"), 1);
    assert_eq!(count("execute_tool read_file"), 1);
    assert_eq!(count("invoke_agent planner"), 1);

    let root = capture.span("process jobs");
    let agent = capture.span("invoke_agent planner");
    let iterations: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "baker.agent.iteration")
        .collect();
    let chats: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "chat claude-sonnet-4-5")
        .collect();
    let tool = capture.span("execute_tool web_search");

    // kinds
    assert_eq!(agent.span_kind, SpanKind::Internal);
    assert!(chats.iter().all(|c| c.span_kind == SpanKind::Client));
    assert_eq!(tool.span_kind, SpanKind::Internal);

    // parent chain: root → agent → iteration → chat/tool, one trace
    assert_eq!(agent.parent_span_id, root.span_context.span_id());
    for it in &iterations {
        assert_eq!(it.parent_span_id, agent.span_context.span_id());
        assert_eq!(it.span_context.trace_id(), root.span_context.trace_id());
    }
    let iter_of = |n: &str| {
        iterations
            .iter()
            .find(|s| attr(s, "baker.agent.iteration") == n)
            .unwrap()
            .span_context
            .span_id()
    };
    let first = chats
        .iter()
        .find(|c| attr(c, "gen_ai.response.id") == "msg_1")
        .unwrap();
    let last = chats
        .iter()
        .find(|c| attr(c, "gen_ai.response.id") == "msg_3")
        .unwrap();
    assert_eq!(first.parent_span_id, iter_of("1"));
    assert_eq!(last.parent_span_id, iter_of("3"));
    assert_eq!(tool.parent_span_id, iter_of("2"));

    // chat attributes
    assert_eq!(attr(first, "gen_ai.operation.name"), "chat");
    assert_eq!(attr(first, "gen_ai.provider.name"), "anthropic");
    assert_eq!(attr(first, "gen_ai.request.model"), MODEL);
    assert_eq!(attr(first, "gen_ai.request.max_tokens"), "1024");
    assert_eq!(attr(first, "baker.llm.role"), "assistant");
    assert_eq!(
        attr(first, "baker.agent.iteration"),
        "1",
        "iteration inherited from the iteration span"
    );
    assert_eq!(attr(first, "gen_ai.usage.input_tokens"), "1000");
    assert_eq!(attr(first, "gen_ai.usage.output_tokens"), "100");
    assert_eq!(attr(first, "gen_ai.usage.cache_read.input_tokens"), "200");
    assert!(Capture::attr(first, "gen_ai.usage.cache_creation.input_tokens").is_none());
    assert_eq!(attr(first, "gen_ai.usage.cost.currency"), "USD");
    assert!(
        (attr(first, "gen_ai.usage.cost.amount")
            .parse::<f64>()
            .unwrap()
            - c1)
            .abs()
            < 1e-12
    );
    assert_eq!(
        attr(first, "gen_ai.conversation.id"),
        "conv-42",
        "from the core's baggage processor"
    );
    assert_eq!(
        attr(first, "gen_ai.response.finish_reasons"),
        r#"["tool_use"]"#
    );
    assert!(
        Capture::attr(first, "gen_ai.input.messages").is_none(),
        "content is off by default"
    );
    assert_eq!(attr(last, "baker.agent.iteration"), "3");

    // tool attributes
    assert_eq!(attr(&tool, "gen_ai.operation.name"), "execute_tool");
    assert_eq!(attr(&tool, "gen_ai.tool.name"), "web_search");
    assert_eq!(attr(&tool, "gen_ai.tool.call.id"), "call_1");
    assert_eq!(attr(&tool, "gen_ai.tool.type"), "function");
    assert_eq!(attr(&tool, "baker.agent.iteration"), "2");

    // roll-up on the agent and iteration spans
    assert_eq!(attr(&agent, "gen_ai.agent.name"), "planner");
    assert_eq!(attr(&agent, "gen_ai.agent.id"), "agent-1");
    assert_eq!(attr(&agent, "gen_ai.usage.input_tokens"), "3000");
    assert_eq!(attr(&agent, "gen_ai.usage.output_tokens"), "400");
    assert_eq!(attr(&agent, "baker.llm.calls"), "2");
    assert_eq!(attr(&agent, "baker.agent.iteration_count"), "3");
    assert_eq!(attr(&agent, "gen_ai.usage.cost.currency"), "USD");
    assert!(
        (attr(&agent, "gen_ai.usage.cost.amount")
            .parse::<f64>()
            .unwrap()
            - (c1 + c2))
            .abs()
            < 1e-12
    );
    let it3 = iterations
        .iter()
        .find(|s| attr(s, "baker.agent.iteration") == "3")
        .unwrap();
    assert_eq!(attr(it3, "gen_ai.usage.input_tokens"), "2000");
    assert_eq!(attr(it3, "gen_ai.agent.name"), "planner");
    let it2 = iterations
        .iter()
        .find(|s| attr(s, "baker.agent.iteration") == "2")
        .unwrap();
    assert!(
        Capture::attr(it2, "gen_ai.usage.input_tokens").is_none(),
        "no LLM call in iteration 2"
    );

    // metrics
    assert_eq!(
        capture.metric_total("gen_ai.client.token.usage"),
        Some(3400.0)
    );
    assert_eq!(
        capture.histogram_count("gen_ai.client.token.usage"),
        Some(4)
    );
    assert_eq!(
        capture.histogram_count("gen_ai.client.operation.duration"),
        Some(2)
    );
    assert_eq!(capture.histogram_count("baker.tool.duration"), Some(2));
    assert!((capture.metric_total("baker.llm.cost").unwrap() - (c1 + c2)).abs() < 1e-12);
    let prom = capture.prometheus_text();
    assert!(prom.contains("gen_ai_client_token_usage_bucket"), "{prom}");
    assert!(prom.contains("gen_ai_token_type=\"input\""), "{prom}");
    let cost_line = prom
        .lines()
        .find(|l| l.starts_with("baker_llm_cost_total{"))
        .expect("cost counter");
    assert!(
        cost_line.contains("gen_ai_agent_name=\"planner\"")
            && cost_line.contains("currency=\"USD\""),
        "{cost_line}"
    );
    assert!(
        !cost_line.contains("conv-42") && !cost_line.contains("job-7"),
        "no ids in metric labels: {cost_line}"
    );
    assert!(
        prom.contains("baker_tool_duration_seconds_bucket"),
        "{prom}"
    );

    // job log line
    let lines = capture.json_lines();
    let job = lines
        .iter()
        .find(|l| l["message"] == "job usage")
        .expect("job usage line");
    assert_eq!(job["job_id"], "job-7");
    assert_eq!(job["conversation_id"], "conv-42");
    assert_eq!(job["input_tokens"], 3000);
    assert_eq!(job["output_tokens"], 400);
    assert_eq!(job["currency"], "USD");
    assert!((job["cost"].as_f64().unwrap() - (c1 + c2)).abs() < 1e-12);

    // ---- over OTLP to a real receiver ----
    let mut collector = FakeCollectorServer::start().await.expect("collector");
    let telemetry = baker_otel::Telemetry::builder()
        .service_name("llm-test")
        .otlp_protocol(baker_otel::config::Protocol::Grpc)
        .otlp_endpoint(collector.endpoint())
        .init()
        .expect("init");
    tokio::task::spawn_blocking(simulate_run).await.unwrap();
    telemetry.force_flush().expect("flush");
    let exported = collector.exported_spans(9, Duration::from_secs(20)).await;
    let by_name = |n: &str| exported.iter().filter(|s| s.name == n).collect::<Vec<_>>();
    assert_eq!(
        by_name("chat claude-sonnet-4-5").len(),
        2,
        "{:?}",
        exported.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let agent = by_name("invoke_agent planner")[0];
    otlp_attr(agent, "gen_ai.usage.input_tokens", "3000");
    otlp_attr(agent, "gen_ai.usage.cost.currency", "USD");
    for chat in by_name("chat claude-sonnet-4-5") {
        assert!(
            chat.kind.contains("CLIENT") || chat.kind.to_lowercase().contains("client"),
            "{}",
            chat.kind
        );
        let parent = exported
            .iter()
            .find(|s| s.span_id == chat.parent_span_id)
            .expect("parent exported");
        assert_eq!(parent.name, "baker.agent.iteration");
        assert_eq!(parent.parent_span_id, agent.span_id);
        otlp_attr(chat, "gen_ai.conversation.id", "conv-42");
    }
    otlp_attr(
        by_name("execute_tool web_search")[0],
        "gen_ai.tool.call.id",
        "call_1",
    );
    drop(telemetry);
}
