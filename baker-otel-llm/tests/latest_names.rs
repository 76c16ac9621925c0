//! Issue 16 item 6: cost source, tool description, agent call-count histograms, and the one
//! versioned names table (`semconv::v1_41` / `semconv::latest`), in both modes.

use baker_otel::config::EnvSource;
use baker_otel::testing::Capture;
use baker_otel_llm::semconv::{self, Names, SemconvMode};
use baker_otel_llm::{agent_span, iteration_span, llm_span, tool, tool_span, LlmTelemetry, Usage};

#[tool(name = "lookup", description = "Looks an order up")]
fn lookup(id: u32) -> u32 {
    id
}

fn agent_run() {
    let agent = agent_span!("planner");
    agent.in_scope(|| {
        for i in 1..=2 {
            let it = iteration_span!(i);
            it.in_scope(|| {
                let llm = llm_span!(model = "gpt-4o", provider = "openai");
                llm.record_usage(Usage {
                    input_tokens: 1000,
                    output_tokens: 100,
                    ..Default::default()
                });
                drop(llm);
                let t = tool_span!("search", description = "Searches the notes");
                t.end();
            });
        }
        // A tool outside any iteration still counts for the agent.
        assert_eq!(lookup(7), 7);
    });
}

fn s(v: Option<opentelemetry::Value>) -> Option<String> {
    v.map(|v| v.to_string())
}

/// The value of the Prometheus sample `name{...label...}`.
fn sample(text: &str, name: &str, label: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

fn check(capture: &Capture) {
    let chat = capture
        .spans()
        .into_iter()
        .find(|sp| sp.name == "chat gpt-4o")
        .unwrap();
    assert!(Capture::attr(&chat, "gen_ai.usage.cost.amount").is_some());
    assert_eq!(
        s(Capture::attr(&chat, "gen_ai.usage.cost.source")).as_deref(),
        Some("local")
    );
    let agent = capture.span("invoke_agent planner");
    assert_eq!(
        s(Capture::attr(&agent, "gen_ai.usage.cost.source")).as_deref(),
        Some("local")
    );
    let search = capture
        .spans()
        .into_iter()
        .find(|sp| sp.name == "execute_tool search")
        .unwrap();
    assert_eq!(
        s(Capture::attr(&search, "gen_ai.tool.description")).as_deref(),
        Some("Searches the notes")
    );
    let lookup = capture.span("execute_tool lookup");
    assert_eq!(
        s(Capture::attr(&lookup, "gen_ai.tool.description")).as_deref(),
        Some("Looks an order up")
    );

    assert_eq!(
        capture.histogram_count("baker.agent.inference.calls"),
        Some(1)
    );
    assert_eq!(capture.histogram_count("baker.agent.tool.calls"), Some(1));
    let text = capture.prometheus_text();
    let agent_label = "gen_ai_agent_name=\"planner\"";
    assert_eq!(
        sample(&text, "baker_agent_inference_calls_sum", agent_label),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "baker_agent_tool_calls_sum", agent_label),
        Some(3.0),
        "{text}"
    );
}

#[test]
fn default_mode_emits_cost_source_tool_description_and_agent_call_counts() {
    let capture = Capture::new();
    capture.in_scope(agent_run);
    check(&capture);
    // Default names: no staged metric names.
    assert!(capture
        .histogram_count("gen_ai.client.inference.duration")
        .is_none());
    assert!(capture
        .histogram_count("gen_ai.client.operation.duration")
        .is_some());
}

#[test]
fn latest_mode_emits_the_latest_names_and_the_same_extras() {
    let capture = Capture::new();
    LlmTelemetry::builder(capture.telemetry())
        .env_source(EnvSource::from_pairs([(
            "OTEL_SEMCONV_STABILITY_OPT_IN",
            "gen_ai_latest_experimental",
        )]))
        .build()
        .unwrap();
    capture.in_scope(agent_run);
    check(&capture);
    assert!(capture
        .histogram_count("gen_ai.client.inference.duration")
        .is_some());
    assert!(capture
        .histogram_count("gen_ai.client.operation.duration")
        .is_none());
}

#[test]
fn one_names_table_per_mode() {
    assert_eq!(Names::for_mode(SemconvMode::V1_41), semconv::v1_41::NAMES);
    assert_eq!(
        Names::for_mode(SemconvMode::LatestExperimental),
        semconv::latest::NAMES
    );
    let (d, l) = (semconv::v1_41::NAMES, semconv::latest::NAMES);
    // Exactly the four documented names differ.
    assert_ne!(d.cache_creation_tokens, l.cache_creation_tokens);
    assert_ne!(d.chat_duration_metric, l.chat_duration_metric);
    assert_ne!(d.embeddings_duration_metric, l.embeddings_duration_metric);
    assert_ne!(d.ttft_metric, l.ttft_metric);
    assert_eq!(d.token_usage_metric, l.token_usage_metric);
    assert_eq!(d.cost_amount, l.cost_amount);
    assert_eq!(d.cost_currency, l.cost_currency);
    assert_eq!(d.cost_source, l.cost_source);
    assert_eq!(d.tool_description, l.tool_description);
    assert_eq!(
        d.agent_inference_calls_metric,
        l.agent_inference_calls_metric
    );
    assert_eq!(d.agent_tool_calls_metric, l.agent_tool_calls_metric);
}
