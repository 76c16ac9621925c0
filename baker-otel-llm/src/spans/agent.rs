//! [`AgentSpan`] (`invoke_agent {name}`) and [`IterationSpan`] (`baker.agent.iteration`): scopes
//! that total the tokens and cost of the LLM calls below them.

use super::handle::{sealed, SpanHandle};
use crate::accumulator::{self, Accumulator, Totals};
use crate::content::ContentKind;
use crate::semconv as sc;
use crate::telemetry::shared;
use opentelemetry::StringValue;
use std::sync::Arc;

/// An agent invocation, created by [`agent_span!`](crate::agent_span). LLM calls below it (in
/// `tracing` terms: while it is entered, or in futures it instruments) add their tokens and cost
/// to it; when it ends the totals are written on the span as `gen_ai.usage.input_tokens`,
/// `gen_ai.usage.output_tokens`, `gen_ai.usage.cost.amount`, `gen_ai.usage.cost.currency`,
/// `baker.llm.calls` and `baker.llm.unpriced_calls`, and the number of reasoning steps (the
/// highest [`iteration_span!`](crate::iteration_span) number started directly below it) as
/// `baker.agent.iteration_count`.
///
/// ```
/// use baker_otel_llm::{agent_span, llm_span, Usage};
/// // any tracing-subscriber registry-based subscriber (baker_otel::init() installs one)
/// let _g = tracing::subscriber::set_default(tracing_subscriber::registry());
/// let agent = agent_span!("planner");
/// agent.in_scope(|| {
///     let llm = llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
///     llm.record_usage(Usage { input_tokens: 100, output_tokens: 10, ..Default::default() });
/// });
/// assert_eq!(agent.totals().usage.input_tokens, 100);
/// ```
pub type AgentSpan = SpanHandle<Agent>;

/// One reasoning step of an agent, created by [`iteration_span!`](crate::iteration_span). LLM and
/// tool spans below it get `baker.agent.iteration`; totals roll up like [`AgentSpan`]'s.
///
/// ```
/// use baker_otel_llm::{agent_span, iteration_span};
/// let agent = agent_span!("planner");
/// agent.in_scope(|| {
///     let it = iteration_span!(1);
///     it.in_scope(|| { /* LLM call, tools */ });
/// });
/// ```
pub type IterationSpan = SpanHandle<Iteration>;

/// The kind of an [`AgentSpan`]: the totals of the calls below it.
///
/// ```
/// let agent: baker_otel_llm::SpanHandle<baker_otel_llm::kind::Agent> =
///     baker_otel_llm::agent_span!("planner");
/// assert_eq!(agent.totals().calls, 0);
/// ```
#[derive(Debug)]
pub struct Agent {
    acc: Arc<Accumulator>,
}

/// The kind of an [`IterationSpan`]: the totals of the calls below it.
///
/// ```
/// let it: baker_otel_llm::SpanHandle<baker_otel_llm::kind::Iteration> =
///     baker_otel_llm::iteration_span!(1);
/// let _entered = it.enter();
/// ```
#[derive(Debug)]
pub struct Iteration {
    acc: Arc<Accumulator>,
}

impl sealed::Kind for Agent {
    const NAME: &'static str = "AgentSpan";
    const ERROR_CONTENT: ContentKind = ContentKind::Output;

    fn end(h: &SpanHandle<Self>, _elapsed: f64, _error: Option<String>) {
        let acc = &h.kind.acc;
        let totals = acc.totals();
        write_totals(&h.span, &totals);
        // The hub current when the agent ends, as before the handles were merged.
        let shared = shared();
        let ins = &shared.instruments;
        let name = acc.agent_name.as_ref().map_or("", |n| n.as_str());
        let agent = [opentelemetry::KeyValue::new(
            sc::GEN_AI_AGENT_NAME,
            StringValue::from(shared.label_values.agents.get(name)),
        )];
        ins.agent_inference_calls.record(totals.calls, &agent);
        ins.agent_tool_calls.record(
            acc.tool_calls.load(std::sync::atomic::Ordering::Relaxed),
            &agent,
        );
        let iterations = acc.iterations.load(std::sync::atomic::Ordering::Relaxed);
        if iterations > 0 && !h.span.is_disabled() {
            use baker_otel::OpenTelemetrySpanExt;
            h.span
                .set_attribute(sc::BAKER_AGENT_ITERATION_COUNT, iterations);
        }
    }

    fn debug_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>) {
        d.field("acc", &self.acc);
    }
}

impl sealed::Kind for Iteration {
    const NAME: &'static str = "IterationSpan";
    const ERROR_CONTENT: ContentKind = ContentKind::Output;

    fn end(h: &SpanHandle<Self>, _elapsed: f64, _error: Option<String>) {
        write_totals(&h.span, &h.kind.acc.totals());
    }

    fn debug_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>) {
        d.field("acc", &self.acc);
    }
}

impl SpanHandle<Agent> {
    pub(crate) fn start(span: tracing::Span, name: StringValue) -> Self {
        let acc = Arc::new(Accumulator::new(accumulator::current(), Some(name), None));
        accumulator::attach(&span, &acc);
        Self::new(span, shared(), Agent { acc })
    }
    /// Totals so far.
    pub fn totals(&self) -> Totals {
        self.kind.acc.totals()
    }
}

impl SpanHandle<Iteration> {
    pub(crate) fn start(span: tracing::Span, iteration: i64) -> Self {
        let parent = accumulator::current();
        if let Some(name) = parent.as_ref().and_then(|p| p.agent_name.clone()) {
            span.record(sc::GEN_AI_AGENT_NAME, name.as_str());
        }
        if let Some(p) = &parent {
            p.iterations
                .fetch_max(iteration, std::sync::atomic::Ordering::Relaxed);
        }
        let acc = Arc::new(Accumulator::new(parent, None, Some(iteration)));
        accumulator::attach(&span, &acc);
        Self::new(span, shared(), Iteration { acc })
    }
    /// Totals so far.
    pub fn totals(&self) -> Totals {
        self.kind.acc.totals()
    }
}

fn write_totals(span: &tracing::Span, t: &Totals) {
    if span.is_disabled() || t.calls == 0 {
        return;
    }
    // Integers go in as i64 (OTLP has no unsigned integer type).
    span.record(
        sc::GEN_AI_USAGE_INPUT_TOKENS,
        crate::spans::int(t.usage.input_tokens),
    );
    span.record(
        sc::GEN_AI_USAGE_OUTPUT_TOKENS,
        crate::spans::int(t.usage.output_tokens),
    );
    span.record(sc::BAKER_LLM_CALLS, crate::spans::int(t.calls));
    if t.unpriced_calls > 0 {
        span.record(
            sc::BAKER_LLM_UNPRICED_CALLS,
            crate::spans::int(t.unpriced_calls),
        );
    }
    match (t.cost(), t.costs.as_slice()) {
        (Some(c), _) => {
            use baker_otel::OpenTelemetrySpanExt;
            span.record(sc::GEN_AI_USAGE_COST_AMOUNT, c.amount);
            span.record(sc::GEN_AI_USAGE_COST_CURRENCY, c.currency.as_str());
            span.set_attribute(sc::GEN_AI_USAGE_COST_SOURCE, sc::COST_SOURCE_LOCAL);
        }
        (None, []) => {}
        (None, many) => {
            use baker_otel::OpenTelemetrySpanExt;
            span.record(sc::GEN_AI_USAGE_COST_CURRENCY, "mixed");
            span.set_attribute(sc::GEN_AI_USAGE_COST_SOURCE, sc::COST_SOURCE_LOCAL);
            for c in many {
                span.set_attribute(format!("baker.llm.cost.{}", c.currency.as_str()), c.amount);
            }
        }
    }
}
