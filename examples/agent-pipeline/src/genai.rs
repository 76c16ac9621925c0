//! GenAI telemetry used by the pipeline: LLM, tool, agent and memory spans and metrics.
//!
//! Interim implementation on plain `tracing` + the global meter with the names of
//! `docs/metrics.md`; it is replaced by `baker-otel-llm` as that crate lands.

use crate::llm::{Completion, PROVIDER};
use crate::memory::MemoryStore;
use crate::wire::Usage;
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tracing::field::Empty;
use tracing::Span;

struct Instruments {
    tokens: Histogram<u64>,
    duration: Histogram<f64>,
    ttfc: Histogram<f64>,
    cost: Counter<f64>,
    tool: Histogram<f64>,
    memory: Histogram<f64>,
}

fn inst() -> &'static Instruments {
    static I: OnceLock<Instruments> = OnceLock::new();
    I.get_or_init(|| {
        let m = opentelemetry::global::meter("agent-pipeline");
        let doubling = |start: f64, n: usize| {
            (0..n)
                .map(|i| start * 2f64.powi(i as i32))
                .collect::<Vec<_>>()
        };
        Instruments {
            tokens: m
                .u64_histogram("gen_ai.client.token.usage")
                .with_unit("{token}")
                .with_boundaries((0..14).map(|i| 4f64.powi(i)).collect())
                .build(),
            duration: m
                .f64_histogram("gen_ai.client.operation.duration")
                .with_unit("s")
                .with_boundaries(doubling(0.01, 14))
                .build(),
            ttfc: m
                .f64_histogram("gen_ai.client.operation.time_to_first_chunk")
                .with_unit("s")
                .with_boundaries(doubling(0.001, 16))
                .build(),
            cost: m.f64_counter("baker.llm.cost").with_unit("{USD}").build(),
            tool: m
                .f64_histogram("baker.tool.duration")
                .with_unit("s")
                .build(),
            memory: m
                .f64_histogram("baker.memory.operation.duration")
                .with_unit("s")
                .build(),
        }
    })
}

/// USD per million (input, output) tokens.
fn price(model: &str) -> Option<(f64, f64)> {
    if model.starts_with("gpt-4o-mini") {
        Some((0.15, 0.60))
    } else if model.starts_with("gpt-4o") {
        Some((2.50, 10.0))
    } else {
        None
    }
}

/// A `chat {model}` CLIENT span.
pub fn chat_span(model: &str, iteration: Option<u32>, agent: &str) -> Span {
    tracing::info_span!(
        "gen_ai.chat",
        otel.name = format!("chat {model}"),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = PROVIDER,
        gen_ai.request.model = model,
        gen_ai.agent.name = agent,
        gen_ai.response.model = Empty,
        gen_ai.response.id = Empty,
        gen_ai.response.finish_reasons = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cost.amount = Empty,
        gen_ai.usage.cost.currency = Empty,
        baker.agent.iteration = iteration.map(i64::from),
    )
}

/// Records a finished completion on `span` and the metrics; returns its usage.
pub fn record_completion(
    span: &Span,
    model: &str,
    agent: &str,
    c: &Completion,
    started: Instant,
    ttfc: Option<f64>,
) -> Usage {
    record_usage(
        span,
        model,
        agent,
        &c.model,
        &c.id,
        c.finish_reason,
        c.input_tokens,
        c.output_tokens,
        started,
        ttfc,
    )
}

/// Records usage of a call on `span` and the metrics; returns it.
#[allow(clippy::too_many_arguments)]
pub fn record_usage(
    span: &Span,
    model: &str,
    agent: &str,
    response_model: &str,
    response_id: &str,
    finish: &str,
    input: u64,
    output: u64,
    started: Instant,
    ttfc: Option<f64>,
) -> Usage {
    let cost = price(model)
        .map(|(i, o)| (input as f64 * i + output as f64 * o) / 1e6)
        .unwrap_or(0.0);
    span.record("gen_ai.response.model", response_model);
    span.record("gen_ai.response.id", response_id);
    span.record("gen_ai.response.finish_reasons", finish);
    span.record("gen_ai.usage.input_tokens", input as i64);
    span.record("gen_ai.usage.output_tokens", output as i64);
    span.record("gen_ai.usage.cost.amount", cost);
    span.record("gen_ai.usage.cost.currency", "USD");
    let base = [
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", PROVIDER),
        KeyValue::new("gen_ai.request.model", model.to_string()),
    ];
    let i = inst();
    let mut with = base.to_vec();
    with.push(KeyValue::new("gen_ai.token.type", "input"));
    i.tokens.record(input, &with);
    with.pop();
    with.push(KeyValue::new("gen_ai.token.type", "output"));
    i.tokens.record(output, &with);
    i.duration.record(started.elapsed().as_secs_f64(), &base);
    if let Some(t) = ttfc {
        i.ttfc.record(t, &base);
    }
    i.cost.add(
        cost,
        &[
            KeyValue::new("gen_ai.provider.name", PROVIDER),
            KeyValue::new("gen_ai.request.model", model.to_string()),
            KeyValue::new("gen_ai.agent.name", agent.to_string()),
            KeyValue::new("currency", "USD"),
        ],
    );
    Usage {
        input_tokens: input,
        output_tokens: output,
        cost,
    }
}

/// An `invoke_agent {name}` span.
pub fn agent_span(name: &str) -> Span {
    tracing::info_span!(
        "gen_ai.invoke_agent",
        otel.name = format!("invoke_agent {name}"),
        otel.kind = "internal",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = name
    )
}

/// An `iteration {n}` span.
pub fn iteration_span(n: u32) -> Span {
    tracing::info_span!(
        "agent.iteration",
        otel.name = format!("iteration {n}"),
        baker.agent.iteration = i64::from(n)
    )
}

/// An `execute_tool {name}` span.
pub fn tool_span(name: &str, call_id: &str, iteration: u32) -> Span {
    tracing::info_span!(
        "gen_ai.execute_tool",
        otel.name = format!("execute_tool {name}"),
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_description = Empty,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = name,
        gen_ai.tool.call.id = call_id,
        gen_ai.tool.type = "function",
        baker.agent.iteration = i64::from(iteration),
        error.type = Empty,
    )
}

/// Ends a tool call: duration metric, error status.
pub fn finish_tool(span: &Span, name: &str, started: Instant, error: Option<&str>) {
    let mut attrs = vec![KeyValue::new("gen_ai.tool.name", name.to_string())];
    if let Some(e) = error {
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", e);
        span.record("error.type", "tool_error");
        attrs.push(KeyValue::new("error.type", "tool_error"));
    }
    inst().tool.record(started.elapsed().as_secs_f64(), &attrs);
}

/// A memory operation span (`search_memory {store}` / `update_memory {store}`) and its metric.
pub fn memory_op<R>(store_name: &str, op: &str, f: impl FnOnce() -> R) -> R {
    let span_name = if op == "search" {
        "search_memory"
    } else {
        "update_memory"
    };
    let span = tracing::info_span!(
        "baker.memory",
        otel.name = format!("{span_name} {store_name}"),
        otel.kind = "client",
        baker.memory.store = store_name,
        baker.memory.operation = op,
    );
    let start = Instant::now();
    let r = span.in_scope(f);
    inst().memory.record(
        start.elapsed().as_secs_f64(),
        &[
            KeyValue::new("baker.memory.store", store_name.to_string()),
            KeyValue::new("baker.memory.operation", op.to_string()),
        ],
    );
    r
}

/// Registers `baker.memory.store.items` / `.size` gauges for `store`.
pub fn observe_store(name: &'static str, store: Arc<MemoryStore>) {
    let m = opentelemetry::global::meter("agent-pipeline");
    let s = store.clone();
    let _items = m
        .u64_observable_gauge("baker.memory.store.items")
        .with_callback(move |o| {
            o.observe(s.len() as u64, &[KeyValue::new("baker.memory.store", name)])
        })
        .build();
    let _size = m
        .u64_observable_gauge("baker.memory.store.size")
        .with_unit("By")
        .with_callback(move |o| {
            o.observe(
                store.size_bytes(),
                &[KeyValue::new("baker.memory.store", name)],
            )
        })
        .build();
}

/// The job-end log line.
pub fn log_job_usage(job_id: &str, conversation_id: &str, u: &Usage) {
    tracing::info!(
        job_id,
        conversation_id,
        input_tokens = u.input_tokens,
        output_tokens = u.output_tokens,
        cost = u.cost,
        currency = "USD",
        "job usage"
    );
}
