//! The instruments of docs/metrics.md (GenAI client, tools, cost, budget, memory store).

use crate::semconv::Names;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;
use std::sync::{Arc, Mutex};

/// `gen_ai.client.token.usage` buckets: 1, 4, 16, …, 67108864.
pub const TOKEN_BUCKETS: [f64; 14] = {
    let mut b = [0.0; 14];
    let mut i = 0;
    let mut v = 1.0;
    while i < 14 {
        b[i] = v;
        v *= 4.0;
        i += 1;
    }
    b
};

/// Duration buckets (s): 0.01, 0.02, …, 81.92.
pub const DURATION_BUCKETS: [f64; 14] = {
    let mut b = [0.0; 14];
    let mut i = 0;
    let mut v = 0.01;
    while i < 14 {
        b[i] = v;
        v *= 2.0;
        i += 1;
    }
    b
};

/// Time-to-first-chunk buckets (s), as recommended by the GenAI conventions.
pub const TTFT_BUCKETS: [f64; 16] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Buckets of the agent call-count histograms (`baker.agent.inference.calls`,
/// `baker.agent.tool.calls`): 0, 1, 2, 4, …, 128 calls.
pub const CALL_BUCKETS: [f64; 9] = [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// Memory-store sizes reported by a callback.
///
/// ```
/// let s = baker_otel_llm::MemoryStoreStats { items: 10, bytes: 2048 };
/// assert_eq!(s.items, 10);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStoreStats {
    /// Records in the store (`baker.memory.store.items`).
    pub items: u64,
    /// Bytes used (`baker.memory.store.size`).
    pub bytes: u64,
}

pub(crate) type StatsFn = Arc<dyn Fn() -> MemoryStoreStats + Send + Sync>;
pub(crate) type StoreList = Arc<Mutex<Vec<(u64, KeyValue, StatsFn)>>>;

pub(crate) struct Instruments {
    pub(crate) tokens: Histogram<u64>,
    pub(crate) chat_duration: Histogram<f64>,
    pub(crate) embeddings_duration: Histogram<f64>,
    pub(crate) ttft: Histogram<f64>,
    pub(crate) tool_duration: Histogram<f64>,
    pub(crate) cost: Counter<f64>,
    pub(crate) unpriced: Counter<u64>,
    pub(crate) budget_exceeded: Counter<u64>,
    pub(crate) memory_duration: Histogram<f64>,
    pub(crate) agent_inference_calls: Histogram<u64>,
    pub(crate) agent_tool_calls: Histogram<u64>,
    pub(crate) stores: StoreList,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter, names: Names) -> Self {
        let secs = |name: &'static str, desc: &'static str, b: &[f64]| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(desc)
                .with_boundaries(b.to_vec())
                .build()
        };
        let calls = |name: &'static str, desc: &'static str| {
            meter
                .u64_histogram(name)
                .with_unit("{call}")
                .with_description(desc)
                .with_boundaries(CALL_BUCKETS.to_vec())
                .build()
        };
        let chat_duration = secs(
            names.chat_duration_metric,
            "GenAI operation duration",
            &DURATION_BUCKETS,
        );
        let embeddings_duration = if names.embeddings_duration_metric == names.chat_duration_metric
        {
            chat_duration.clone()
        } else {
            secs(
                names.embeddings_duration_metric,
                "GenAI embeddings duration",
                &DURATION_BUCKETS,
            )
        };
        let stores: StoreList = Arc::new(Mutex::new(Vec::new()));
        let s1 = stores.clone();
        let _items = meter
            .u64_observable_gauge("baker.memory.store.items")
            .with_unit("{record}")
            .with_description("Records in each agent memory store")
            .with_callback(move |obs| {
                for (_, label, f) in s1.lock().map(|l| l.clone()).unwrap_or_default() {
                    obs.observe(f().items, &[label]);
                }
            })
            .build();
        let s2 = stores.clone();
        let _size = meter
            .u64_observable_gauge("baker.memory.store.size")
            .with_unit("By")
            .with_description("Bytes used by each agent memory store")
            .with_callback(move |obs| {
                for (_, label, f) in s2.lock().map(|l| l.clone()).unwrap_or_default() {
                    obs.observe(f().bytes, &[label]);
                }
            })
            .build();
        Self {
            tokens: meter
                .u64_histogram(names.token_usage_metric)
                .with_unit("{token}")
                .with_description("Number of input and output tokens used")
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build(),
            chat_duration,
            embeddings_duration,
            ttft: secs(
                names.ttft_metric,
                "Time to the first chunk of a streamed response",
                &TTFT_BUCKETS,
            ),
            tool_duration: secs(
                "baker.tool.duration",
                "Tool execution duration",
                &DURATION_BUCKETS,
            ),
            cost: meter
                .f64_counter("baker.llm.cost")
                .with_unit("{USD}")
                .with_description("Cost of LLM calls")
                .build(),
            unpriced: meter
                .u64_counter("baker.llm.unpriced_calls")
                .with_unit("{call}")
                .with_description("LLM calls whose model has no known price")
                .build(),
            budget_exceeded: meter
                .u64_counter("baker.llm.budget.exceeded")
                .with_unit("{budget}")
                .with_description("Conversations or jobs that went over their cost budget")
                .build(),
            memory_duration: secs(
                "baker.memory.operation.duration",
                "Memory store operation duration",
                &DURATION_BUCKETS,
            ),
            agent_inference_calls: calls(
                names.agent_inference_calls_metric,
                "LLM (inference) calls per agent invocation",
            ),
            agent_tool_calls: calls(
                names.agent_tool_calls_metric,
                "Tool calls per agent invocation",
            ),
            stores,
        }
    }
}
