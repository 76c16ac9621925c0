//! Shared simulated agent run.
#![allow(dead_code)]

use baker_otel::context::BakerScope;
use baker_otel_llm::{agent_span, iteration_span, llm_span, tool_span, JobUsage, Totals, Usage};

/// The model of the simulated run.
pub const MODEL: &str = "claude-sonnet-4-5";

/// Usage of the first LLM call.
pub fn usage1() -> Usage {
    Usage {
        input_tokens: 1000,
        output_tokens: 100,
        cache_read_input_tokens: 200,
        ..Default::default()
    }
}
/// Usage of the second LLM call.
pub fn usage2() -> Usage {
    Usage {
        input_tokens: 2000,
        output_tokens: 300,
        ..Default::default()
    }
}

/// One job: agent `planner`, iteration 1 = LLM, iteration 2 = two tools, iteration 3 = LLM.
pub fn simulate_run() -> Totals {
    let _ids = BakerScope::current()
        .conversation_id("conv-42")
        .job_id("job-7")
        .attach();
    let root = tracing::info_span!("process jobs");
    let _root = root.enter();
    let job = JobUsage::start();
    let agent = agent_span!("planner", id = "agent-1");
    agent.in_scope(|| {
        for n in 1..=3 {
            let it = iteration_span!(n);
            it.in_scope(|| match n {
                1 | 3 => {
                    let llm = llm_span!(
                        model = "claude-sonnet-4-5",
                        provider = "anthropic",
                        role = "assistant",
                        max_tokens = 1024
                    );
                    llm.in_scope(|| tracing::debug!("calling the model"));
                    llm.record_usage(if n == 1 { usage1() } else { usage2() });
                    llm.record_response_id(if n == 1 { "msg_1" } else { "msg_3" });
                    llm.record_finish_reasons(&[if n == 1 { "tool_use" } else { "end_turn" }]);
                }
                _ => {
                    let t = tool_span!("web_search", call_id = "call_1");
                    t.end();
                    let t = tool_span!("read_file", call_id = "call_2");
                    t.end();
                }
            });
        }
    });
    drop(agent);
    job.finish()
}
