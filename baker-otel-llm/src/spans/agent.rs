//! [`AgentSpan`] (`invoke_agent {name}`) and [`IterationSpan`] (`baker.agent.iteration`): scopes
//! that total the tokens and cost of the LLM calls below them.

use crate::accumulator::{self, Accumulator, Totals};
use crate::semconv as sc;
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
#[derive(Debug)]
pub struct AgentSpan {
    span: tracing::Span,
    acc: Arc<Accumulator>,
}

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
#[derive(Debug)]
pub struct IterationSpan {
    span: tracing::Span,
    acc: Arc<Accumulator>,
}

macro_rules! scope_methods {
    () => {
        /// The `tracing` span.
        pub fn span(&self) -> &tracing::Span {
            &self.span
        }
        /// Runs `f` inside the span.
        pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
            self.span.in_scope(f)
        }
        /// Instruments a future with the span.
        pub fn instrument<F: std::future::Future>(
            &self,
            fut: F,
        ) -> tracing::instrument::Instrumented<F> {
            tracing::Instrument::instrument(fut, self.span.clone())
        }
        /// Enters the span until the guard drops (sync code only; use
        /// [`instrument`](Self::instrument) across `.await`).
        pub fn enter(&self) -> tracing::span::Entered<'_> {
            self.span.enter()
        }
        /// Totals so far.
        pub fn totals(&self) -> Totals {
            self.acc.totals()
        }
        /// Ends the span now (same as dropping the handle).
        pub fn end(self) {}
    };
}

impl AgentSpan {
    pub(crate) fn start(span: tracing::Span, name: StringValue) -> Self {
        let acc = Arc::new(Accumulator::new(accumulator::current(), Some(name), None));
        accumulator::attach(&span, &acc);
        Self { span, acc }
    }
    scope_methods!();

    /// Marks the invocation failed (`error.type`, empty → `_OTHER`).
    pub fn record_error(&self, error_type: &str) {
        super::record_error(
            &self.span,
            &crate::telemetry::shared(),
            crate::content::ContentKind::Output,
            error_type,
            None,
        );
    }
}

impl IterationSpan {
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
        Self { span, acc }
    }
    scope_methods!();
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

impl Drop for AgentSpan {
    fn drop(&mut self) {
        let totals = self.acc.totals();
        write_totals(&self.span, &totals);
        let shared = crate::telemetry::shared();
        let ins = &shared.instruments;
        let name = self.acc.agent_name.as_ref().map_or("", |n| n.as_str());
        let agent = [opentelemetry::KeyValue::new(
            sc::GEN_AI_AGENT_NAME,
            opentelemetry::StringValue::from(shared.label_values.agents.get(name)),
        )];
        ins.agent_inference_calls.record(totals.calls, &agent);
        ins.agent_tool_calls.record(
            self.acc
                .tool_calls
                .load(std::sync::atomic::Ordering::Relaxed),
            &agent,
        );
        let iterations = self
            .acc
            .iterations
            .load(std::sync::atomic::Ordering::Relaxed);
        if iterations > 0 && !self.span.is_disabled() {
            use baker_otel::OpenTelemetrySpanExt;
            self.span
                .set_attribute(sc::BAKER_AGENT_ITERATION_COUNT, iterations);
        }
    }
}

impl Drop for IterationSpan {
    fn drop(&mut self) {
        write_totals(&self.span, &self.acc.totals());
    }
}
