//! Counts are exported as OpenTelemetry integers (not strings), as the GenAI conventions require.
use baker_otel::testing::Capture;
use baker_otel_llm::{agent_span, iteration_span, llm_span, memory_span, Usage};
use opentelemetry::Value;

#[test]
fn token_counts_iterations_and_result_counts_are_integers() {
    let capture = Capture::new();
    capture.in_scope(|| {
        let agent = agent_span!("planner");
        agent.in_scope(|| {
            let it = iteration_span!(2);
            it.in_scope(|| {
                let llm = llm_span!(model = "claude-sonnet-4-5", role = "assistant");
                llm.record_usage(Usage {
                    input_tokens: 812,
                    output_tokens: 97,
                    ..Default::default()
                });
                drop(llm);
                let m = memory_span!(search, "notes");
                m.record_result_count(3);
                drop(m);
            });
        });
    });
    let chat = capture.span("chat claude-sonnet-4-5");
    assert_eq!(
        Capture::attr(&chat, "gen_ai.usage.input_tokens"),
        Some(Value::I64(812))
    );
    assert_eq!(
        Capture::attr(&chat, "gen_ai.usage.output_tokens"),
        Some(Value::I64(97))
    );
    assert_eq!(
        Capture::attr(&chat, "baker.agent.iteration"),
        Some(Value::I64(2))
    );
    let agent = capture.span("invoke_agent planner");
    assert_eq!(
        Capture::attr(&agent, "gen_ai.usage.input_tokens"),
        Some(Value::I64(812))
    );
    assert_eq!(
        Capture::attr(&agent, "baker.llm.calls"),
        Some(Value::I64(1))
    );
    let mem = capture.span("search_memory notes");
    assert_eq!(
        Capture::attr(&mem, "gen_ai.memory.record.count"),
        Some(Value::I64(3))
    );
}
