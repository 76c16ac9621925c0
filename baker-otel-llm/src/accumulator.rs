//! Roll-up of tokens and cost onto enclosing agent, iteration and job scopes.
//!
//! Design: every agent span, iteration span and [`JobUsage`] owns an `Arc<Accumulator>` that is
//! stored in the extensions of its `tracing` span (tracing-subscriber's registry). An LLM span
//! finds the nearest accumulator by walking from the current span up its ancestors when it
//! starts; accumulators are chained to their own nearest ancestor, so one finished call adds to
//! the iteration, the agent, any outer agent and the job at once. Each scope writes its totals onto
//! its own span when it ends. This follows the `tracing` parent chain, so it works across
//! `.await`s and tasks as long as futures are instrumented with the scope's span (as
//! `AgentSpan::instrument` does). Without a registry-based subscriber nothing is rolled up, and
//! metrics are still recorded.

use crate::pricing::Cost;
use crate::telemetry::Budget;
use crate::Usage;
use opentelemetry::StringValue;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tracing_subscriber::registry::{LookupSpan, Registry};

/// Totals of a scope.
///
/// ```
/// let t = baker_otel_llm::Totals::default();
/// assert_eq!(t.calls, 0);
/// assert!(t.cost().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Totals {
    /// Summed token usage.
    pub usage: Usage,
    /// LLM calls.
    pub calls: u64,
    /// LLM calls without a known price (the cost is then a lower bound).
    pub unpriced_calls: u64,
    /// Cost per currency.
    pub costs: Vec<Cost>,
}

impl Totals {
    /// The cost when every priced call used one currency.
    pub fn cost(&self) -> Option<&Cost> {
        match self.costs.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    fn add(&mut self, usage: Option<&Usage>, cost: Option<&Cost>, unpriced: bool) {
        if let Some(u) = usage {
            self.usage = self.usage.add(u);
        }
        self.calls += 1;
        if unpriced {
            self.unpriced_calls += 1;
        }
        if let Some(c) = cost {
            match self.costs.iter_mut().find(|x| x.currency == c.currency) {
                Some(x) => x.amount += c.amount,
                None => self.costs.push(c.clone()),
            }
        }
    }
}

/// One scope's running totals.
///
/// Chains stay as deep as the nesting of scopes: a [`JobUsage`] never takes another job of the
/// same span as its parent (see [`JobUsage::start`]). Dropping a chain is iterative anyway.
#[derive(Debug)]
pub(crate) struct Accumulator {
    parent: Option<Arc<Accumulator>>,
    pub(crate) agent_name: Option<StringValue>,
    pub(crate) iteration: Option<i64>,
    /// Highest iteration number of the iteration scopes started directly below this one.
    pub(crate) iterations: AtomicI64,
    /// Tool calls started below this scope (any depth).
    pub(crate) tool_calls: AtomicU64,
    totals: Mutex<Totals>,
    budget: Option<Budget>,
    exceeded: AtomicBool,
    job_ids: Option<(Option<String>, Option<String>)>,
}

#[derive(Clone)]
struct AccExt(Arc<Accumulator>);

impl Accumulator {
    pub(crate) fn new(
        parent: Option<Arc<Accumulator>>,
        agent_name: Option<StringValue>,
        iteration: Option<i64>,
    ) -> Self {
        let agent_name = agent_name.or_else(|| parent.as_ref().and_then(|p| p.agent_name.clone()));
        Self {
            parent,
            agent_name,
            iteration,
            iterations: AtomicI64::new(0),
            tool_calls: AtomicU64::new(0),
            totals: Mutex::default(),
            budget: None,
            exceeded: AtomicBool::new(false),
            job_ids: None,
        }
    }

    /// Adds one call to this scope and every enclosing one.
    pub(crate) fn add(&self, usage: Option<&Usage>, cost: Option<&Cost>, unpriced: bool) {
        let mut cur = Some(self);
        while let Some(acc) = cur {
            let total = acc.totals.lock().map(|mut t| {
                t.add(usage, cost, unpriced);
                t.costs.clone()
            });
            if let (Some(b), Ok(costs)) = (&acc.budget, total) {
                acc.check_budget(b, &costs);
            }
            cur = acc.parent.as_deref();
        }
    }

    /// Counts one tool call in this scope and every enclosing one.
    pub(crate) fn add_tool_call(&self) {
        let mut cur = Some(self);
        while let Some(acc) = cur {
            acc.tool_calls.fetch_add(1, Ordering::Relaxed);
            cur = acc.parent.as_deref();
        }
    }

    fn check_budget(&self, b: &Budget, costs: &[Cost]) {
        let Some(spent) = costs
            .iter()
            .find(|c| c.currency.as_str() == b.currency)
            .map(|c| c.amount)
        else {
            return;
        };
        if spent > b.amount && !self.exceeded.swap(true, Ordering::Relaxed) {
            let shared = crate::telemetry::shared();
            shared
                .instruments
                .budget_exceeded
                .add(1, &[opentelemetry::KeyValue::new("scope", "job")]);
            let (conv, job) = self.job_ids.clone().unwrap_or_default();
            tracing::warn!(
                name: "baker.llm.budget_exceeded",
                target: "baker_otel_llm",
                job_id = job.as_deref(),
                conversation_id = conv.as_deref(),
                cost = spent,
                budget = b.amount,
                currency = b.currency.as_str(),
                "job cost budget exceeded"
            );
        }
    }

    pub(crate) fn totals(&self) -> Totals {
        self.totals.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Whether this is a job's accumulator.
    fn is_job(&self) -> bool {
        self.job_ids.is_some()
    }

    /// Nearest iteration number in this chain.
    pub(crate) fn iteration(&self) -> Option<i64> {
        let mut cur = Some(self);
        while let Some(a) = cur {
            if a.iteration.is_some() {
                return a.iteration;
            }
            cur = a.parent.as_deref();
        }
        None
    }
}

impl Drop for Accumulator {
    /// Unlinks the parent chain one link at a time: no recursion, however long the chain.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(parent) = next {
            next = match Arc::into_inner(parent) {
                Some(mut p) => p.parent.take(),
                None => None,
            };
        }
    }
}

/// The accumulator of the current span or its nearest ancestor.
pub(crate) fn current() -> Option<Arc<Accumulator>> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let reg = dispatch.downcast_ref::<Registry>()?;
            let span = reg.span(id)?;
            span.scope()
                .find_map(|s| s.extensions().get::<AccExt>().map(|a| a.0.clone()))
        })
        .flatten()
}

/// Stores `acc` in `span`'s extensions. Returns false when the span is disabled or the
/// subscriber has no registry.
pub(crate) fn attach(span: &tracing::Span, acc: &Arc<Accumulator>) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        let reg = dispatch.downcast_ref::<Registry>()?;
        let s = reg.span(id)?;
        s.extensions_mut().replace(AccExt(acc.clone()));
        Some(())
    })
    .flatten()
    .is_some()
}

/// Accumulates the tokens and cost of one job and writes the `job usage` log line when it ends.
///
/// `JobUsage::start()` attaches to the **current** span (e.g. the worker's `process {subject}`
/// span), so every LLM call below it counts; the conversation and job ids come from the current
/// baggage ([`baker_otel::context::BakerScope`]). When dropped (or on [`finish`](Self::finish)) it
/// emits one `tracing::info!` event, message `job usage`, with `job_id`, `conversation_id`,
/// `input_tokens`, `output_tokens`, `cost`, `currency` (plus `llm_calls`, `unpriced_calls`).
/// A per-job [`Budget`] from the builder is enforced while the job runs.
///
/// ```
/// use baker_otel::context::BakerScope;
/// use baker_otel_llm::{JobUsage, Usage};
/// let span = tracing::info_span!("process jobs");
/// let _e = span.enter();
/// let _scope = BakerScope::current().job_id("job-7").conversation_id("conv-1").attach();
/// let job = JobUsage::start();
/// let llm = baker_otel_llm::llm_span!(model = "claude-sonnet-4-5", provider = "anthropic");
/// llm.record_usage(Usage { input_tokens: 10, output_tokens: 5, ..Default::default() });
/// drop(llm);
/// let totals = job.finish();           // logs "job usage"
/// # let _ = totals;
/// ```
#[derive(Debug)]
pub struct JobUsage {
    acc: Arc<Accumulator>,
    done: bool,
}

impl JobUsage {
    /// Starts accounting for the job running in the current span.
    ///
    /// Jobs that run one after the other under one span (a worker loop) are independent: a
    /// job's calls count for it and for the scopes that enclose its span — an agent, or a job
    /// started on an enclosing span — never for an earlier job of the same span. The new job
    /// replaces the earlier one on the span; the earlier handle keeps its totals so far.
    pub fn start() -> Self {
        let shared = crate::telemetry::shared();
        let ids = opentelemetry::Context::map_current(baker_otel::context::ids);
        let mut acc = Accumulator::new(parent_for_job(), None, None);
        acc.budget = shared.job_budget.clone();
        acc.job_ids = Some(ids);
        let acc = Arc::new(acc);
        attach(&tracing::Span::current(), &acc);
        Self { acc, done: false }
    }

    /// Totals so far.
    pub fn totals(&self) -> Totals {
        self.acc.totals()
    }

    /// Ends the job: logs `job usage` and returns the totals.
    pub fn finish(mut self) -> Totals {
        self.emit()
    }

    fn emit(&mut self) -> Totals {
        self.done = true;
        let t = self.acc.totals();
        let (conv, job) = self.acc.job_ids.clone().unwrap_or_default();
        let (cost, currency) = match (t.cost(), t.costs.len()) {
            (Some(c), _) => (Some(c.amount), Some(c.currency.as_str().to_owned())),
            (None, 0) => (None, None),
            (None, _) => (None, Some("mixed".to_owned())),
        };
        tracing::info!(
            name: "baker.job.usage",
            target: "baker_otel_llm",
            job_id = job.as_deref(),
            conversation_id = conv.as_deref(),
            input_tokens = t.usage.input_tokens,
            output_tokens = t.usage.output_tokens,
            cost,
            currency = currency.as_deref(),
            llm_calls = t.calls,
            unpriced_calls = t.unpriced_calls,
            "job usage"
        );
        t
    }
}

/// The parent of a job started in the current span: the nearest accumulator, except that a job
/// stored on the current span itself (an earlier job of this span) is skipped for its own
/// parent — which, by the same rule, is never a job of this span either.
fn parent_for_job() -> Option<Arc<Accumulator>> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let reg = dispatch.downcast_ref::<Registry>()?;
            let span = reg.span(id)?;
            let own = span.extensions().get::<AccExt>().map(|a| a.0.clone());
            match own {
                Some(acc) if acc.is_job() => acc.parent.clone(),
                Some(acc) => Some(acc),
                None => span
                    .scope()
                    .skip(1)
                    .find_map(|s| s.extensions().get::<AccExt>().map(|a| a.0.clone())),
            }
        })
        .flatten()
}

impl Drop for JobUsage {
    fn drop(&mut self) {
        if !self.done {
            self.emit();
        }
    }
}
