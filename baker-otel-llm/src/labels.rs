//! Precomputed metric attribute sets and span names for the LLM hot path.
//!
//! The labels of one LLM call's metrics (operation, provider, request model, token type,
//! agent, currency) repeat from call to call, so they are built once per
//! `(operation, provider, model, agent)` as already-sorted `Arc<[KeyValue]>` slices (the SDK
//! looks the slice up as given, then sorted: sorted input makes both the same entry) and kept in
//! a small bounded map keyed by a hash of the borrowed strings. Recording is then
//! `histogram.record(v, &labels.input)`: no `KeyValue` is built or cloned per call. A full map
//! (or a hash collision) falls back to building the labels for that call.
//!
//! Provider, model and agent names are not fixed in code (a client or a model may pick them), so
//! their label values go through the hub's [bounded value sets](crate::MAX_LABEL_VALUES) when an
//! entry is built: the cache is keyed by the raw names, its labels hold the bounded ones
//! (`_OTHER` past the bound). Cached calls pay nothing for it.
//!
//! With the `bound-instruments` feature (OpenTelemetry SDK `experimental_metrics_bound_instruments`)
//! cached entries also hold instruments bound to those sets, so the duration, token and cost
//! records skip the SDK's per-call attribute hashing entirely (~130 ns → ~17 ns per record).

use crate::hashing::{hash_strs, PreHashed};
use crate::metrics::Instruments;
use crate::pricing::Cost;
use crate::semconv as sc;
#[cfg(feature = "bound-instruments")]
use opentelemetry::metrics::{BoundCounter, BoundHistogram};
use opentelemetry::{KeyValue, StringValue};
use std::sync::{Arc, OnceLock, RwLock};

/// Bound on the distinct values of each metric label whose value the application does not fix
/// in code — `gen_ai.tool.name`, `gen_ai.request.model`, `gen_ai.provider.name`,
/// `gen_ai.agent.name`, `baker.memory.store` — per hub; further values are recorded as `_OTHER`
/// on metrics (spans keep the real value). A model that is told to "call tool `x-<uuid>`", or a
/// client that picks the model name, cannot mint a series per request.
pub const MAX_LABEL_VALUES: usize = 100;

/// The bounded value sets of the metric labels that text from outside the code can fill.
#[derive(Debug)]
pub(crate) struct LabelValues {
    pub(crate) tools: baker_otel::cardinality::BoundedValues,
    pub(crate) models: baker_otel::cardinality::BoundedValues,
    pub(crate) providers: baker_otel::cardinality::BoundedValues,
    pub(crate) agents: baker_otel::cardinality::BoundedValues,
    pub(crate) stores: baker_otel::cardinality::BoundedValues,
}

impl Default for LabelValues {
    fn default() -> Self {
        let b = || baker_otel::cardinality::BoundedValues::new(MAX_LABEL_VALUES);
        Self {
            tools: b(),
            models: b(),
            providers: b(),
            agents: b(),
            stores: b(),
        }
    }
}

/// Entries kept per map; beyond this, labels are built per call (bounded memory).
pub(crate) const CAP: usize = 1024;

/// The metric attribute sets of one `(operation, provider, model, agent)`, sorted by key.
#[derive(Debug)]
pub(crate) struct CallLabels {
    /// The raw names this entry stands for (the cache key).
    key: Key,
    /// Label values (bounded).
    operation: StringValue,
    provider: StringValue,
    model: StringValue,
    agent: Option<StringValue>,
    /// Duration / time-to-first-chunk: operation, provider, request model.
    pub(crate) base: Arc<[KeyValue]>,
    /// Token histogram, `gen_ai.token.type=input`.
    pub(crate) input: Arc<[KeyValue]>,
    /// Token histogram, `gen_ai.token.type=output`.
    pub(crate) output: Arc<[KeyValue]>,
    /// `baker.llm.unpriced_calls`: provider, model.
    pub(crate) unpriced: Arc<[KeyValue]>,
    /// Cost counter for the first currency seen (nearly always the only one).
    cost: OnceLock<CostLabels>,
    #[cfg(feature = "bound-instruments")]
    bound: Option<Bound>,
}

#[derive(Debug)]
struct CostLabels {
    currency: StringValue,
    labels: Arc<[KeyValue]>,
    #[cfg(feature = "bound-instruments")]
    bound: Option<BoundCounter<f64>>,
}

/// The raw `(operation, provider, model, agent)` of an entry.
#[derive(Debug)]
struct Key {
    provider: StringValue,
    model: StringValue,
    agent: Option<StringValue>,
}

/// Instruments bound to a cached entry's sets (only for entries kept in the cache).
#[cfg(feature = "bound-instruments")]
#[derive(Debug)]
struct Bound {
    duration: BoundHistogram<f64>,
    input: BoundHistogram<u64>,
    output: BoundHistogram<u64>,
}

fn sorted(mut v: Vec<KeyValue>) -> Arc<[KeyValue]> {
    v.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    v.into()
}

/// The duration histogram of `operation` (embeddings have their own in the newer semconv).
fn duration_of<'a>(
    ins: &'a Instruments,
    operation: &str,
) -> &'a opentelemetry::metrics::Histogram<f64> {
    if operation == "embeddings" {
        &ins.embeddings_duration
    } else {
        &ins.chat_duration
    }
}

/// A `StringValue` that clones without allocating (static or reference-counted).
fn shareable(v: &StringValue) -> StringValue {
    StringValue::from(Arc::<str>::from(v.as_str()))
}

impl CallLabels {
    /// The sets of one call, with provider, model and agent bounded by `bound`; `bind_to`
    /// binds instruments to them (cached entries only).
    pub(crate) fn new(
        operation: &StringValue,
        provider: &StringValue,
        model: &StringValue,
        agent: Option<&StringValue>,
        bound: &LabelValues,
        bind_to: Option<&Instruments>,
    ) -> Self {
        let key = Key {
            provider: shareable(provider),
            model: shareable(model),
            agent: agent.map(shareable),
        };
        let op = shareable(operation);
        let p = StringValue::from(bound.providers.get(provider.as_str()));
        let m = StringValue::from(bound.models.get(model.as_str()));
        let agent = agent.map(|a| StringValue::from(bound.agents.get(a.as_str())));
        let agent = agent.as_ref();
        let kv = |k: &'static str, v: &StringValue| KeyValue::new(k, v.clone());
        let base = vec![
            kv(sc::GEN_AI_OPERATION_NAME, &op),
            kv(sc::GEN_AI_PROVIDER_NAME, &p),
            kv(sc::GEN_AI_REQUEST_MODEL, &m),
        ];
        let tokens = |t: &'static str| {
            let mut v = base.clone();
            v.push(KeyValue::new(sc::GEN_AI_TOKEN_TYPE, t));
            sorted(v)
        };
        let (input, output) = (tokens("input"), tokens("output"));
        let base = sorted(base);
        #[cfg(feature = "bound-instruments")]
        let bound = bind_to.map(|ins| Bound {
            duration: duration_of(ins, op.as_str()).bind(&base),
            input: ins.tokens.bind(&input),
            output: ins.tokens.bind(&output),
        });
        #[cfg(not(feature = "bound-instruments"))]
        let _ = bind_to;
        Self {
            unpriced: sorted(vec![
                kv(sc::GEN_AI_PROVIDER_NAME, &p),
                kv(sc::GEN_AI_REQUEST_MODEL, &m),
            ]),
            base,
            input,
            output,
            agent: agent.cloned(),
            key,
            operation: op,
            provider: p,
            model: m,
            cost: OnceLock::new(),
            #[cfg(feature = "bound-instruments")]
            bound,
        }
    }

    fn matches(&self, op: &str, provider: &str, model: &str, agent: Option<&str>) -> bool {
        self.key.model.as_str() == model
            && self.key.provider.as_str() == provider
            && self.operation.as_str() == op
            && self.key.agent.as_ref().map(StringValue::as_str) == agent
    }

    fn build_cost(&self, currency: &StringValue) -> Arc<[KeyValue]> {
        let mut v = vec![
            KeyValue::new(sc::GEN_AI_PROVIDER_NAME, self.provider.clone()),
            KeyValue::new(sc::GEN_AI_REQUEST_MODEL, self.model.clone()),
            KeyValue::new("currency", currency.clone()),
        ];
        if let Some(a) = &self.agent {
            v.push(KeyValue::new(sc::GEN_AI_AGENT_NAME_LABEL, a.clone()));
        }
        sorted(v)
    }

    /// `baker.llm.cost` labels: provider, model, [agent], currency.
    #[cfg(test)]
    fn cost(&self, currency: &StringValue) -> Arc<[KeyValue]> {
        match self.cost.get() {
            Some(c) if &c.currency == currency => c.labels.clone(),
            _ => self.build_cost(currency),
        }
    }

    /// Records the call's duration (`error_type` adds `error.type`).
    #[inline]
    pub(crate) fn record_duration(&self, ins: &Instruments, secs: f64, error_type: Option<&str>) {
        match error_type {
            Some(e) => duration_of(ins, self.operation.as_str()).record(secs, &self.with_error(e)),
            None => {
                #[cfg(feature = "bound-instruments")]
                if let Some(b) = &self.bound {
                    return b.duration.record(secs);
                }
                duration_of(ins, self.operation.as_str()).record(secs, &self.base)
            }
        }
    }

    /// Records input (and, unless `embeddings`, output) tokens.
    #[inline]
    pub(crate) fn record_tokens(&self, ins: &Instruments, input: u64, output: Option<u64>) {
        #[cfg(feature = "bound-instruments")]
        if let Some(b) = &self.bound {
            b.input.record(input);
            if let Some(o) = output {
                b.output.record(o);
            }
            return;
        }
        ins.tokens.record(input, &self.input);
        if let Some(o) = output {
            ins.tokens.record(o, &self.output);
        }
    }

    /// Adds to `baker.llm.cost`.
    #[inline]
    pub(crate) fn add_cost(&self, ins: &Instruments, cost: &Cost) {
        let c = self.cost.get_or_init(|| {
            let labels = self.build_cost(&cost.currency);
            CostLabels {
                currency: shareable(&cost.currency),
                #[cfg(feature = "bound-instruments")]
                bound: self.bound.as_ref().map(|_| ins.cost.bind(&labels)),
                labels,
            }
        });
        if c.currency != cost.currency {
            return ins.cost.add(cost.amount, &self.build_cost(&cost.currency));
        }
        #[cfg(feature = "bound-instruments")]
        if let Some(b) = &c.bound {
            return b.add(cost.amount);
        }
        ins.cost.add(cost.amount, &c.labels)
    }

    /// Duration labels plus `error.type`.
    pub(crate) fn with_error(&self, error_type: &str) -> Vec<KeyValue> {
        let mut v = self.base.to_vec();
        v.push(KeyValue::new(sc::ERROR_TYPE, error_type.to_owned()));
        v.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        v
    }
}

/// (operation, model, `"{operation} {model}"`).
type NameEntry = (Box<str>, Box<str>, Arc<str>);

/// Bounded concurrent map of [`CallLabels`] and dynamic span names.
#[derive(Debug, Default)]
pub(crate) struct LabelCache {
    calls: RwLock<PreHashed<Arc<CallLabels>>>,
    names: RwLock<PreHashed<NameEntry>>,
}

impl LabelCache {
    /// The labels of one call, from the cache when possible.
    pub(crate) fn call(
        &self,
        ins: &Instruments,
        bound: &LabelValues,
        operation: &StringValue,
        provider: &StringValue,
        model: &StringValue,
        agent: Option<&StringValue>,
    ) -> Arc<CallLabels> {
        let (o, p, m) = (operation.as_str(), provider.as_str(), model.as_str());
        let a = agent.map(StringValue::as_str);
        let h = hash_strs(&[Some(o), Some(p), Some(m), a]);
        let uncached = || {
            Arc::new(CallLabels::new(
                operation, provider, model, agent, bound, None,
            ))
        };
        if let Ok(map) = self.calls.read() {
            match map.get(&h) {
                Some(e) if e.matches(o, p, m, a) => return e.clone(),
                // Collision: build for this call, keep the cached entry.
                Some(_) => return uncached(),
                None if map.len() >= CAP => return uncached(),
                None => {}
            }
        }
        let Ok(mut map) = self.calls.write() else {
            return uncached();
        };
        if map.len() >= CAP {
            return uncached();
        }
        let e = map
            .entry(h)
            .or_insert_with(|| {
                Arc::new(CallLabels::new(
                    operation,
                    provider,
                    model,
                    agent,
                    bound,
                    Some(ins),
                ))
            })
            .clone();
        if e.matches(o, p, m, a) {
            e
        } else {
            uncached()
        }
    }

    /// `"{operation} {model}"`, shared per pair.
    pub(crate) fn span_name(&self, operation: &str, model: &str) -> Arc<str> {
        let h = hash_strs(&[Some(operation), Some(model)]);
        if let Ok(map) = self.names.read() {
            if let Some((o, m, n)) = map.get(&h) {
                if &**o == operation && &**m == model {
                    return n.clone();
                }
                return Arc::from(format!("{operation} {model}"));
            }
        }
        let name: Arc<str> = Arc::from(format!("{operation} {model}"));
        if let Ok(mut map) = self.names.write() {
            if map.len() < CAP {
                map.entry(h)
                    .or_insert_with(|| (operation.into(), model.into(), name.clone()));
            }
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instruments() -> Instruments {
        Instruments::new(
            &opentelemetry::global::meter("labels-test"),
            crate::semconv::Names::for_mode(crate::semconv::SemconvMode::V1_41),
        )
    }

    fn s(v: &'static str) -> StringValue {
        StringValue::from(v)
    }

    #[test]
    fn labels_are_sorted_cached_and_complete() {
        let ins = instruments();
        let bound = LabelValues::default();
        let cache = LabelCache::default();
        let agent = s("planner");
        let a = cache.call(
            &ins,
            &bound,
            &s("chat"),
            &s("anthropic"),
            &s("m1"),
            Some(&agent),
        );
        let b = cache.call(
            &ins,
            &bound,
            &s("chat"),
            &s("anthropic"),
            &s("m1"),
            Some(&agent),
        );
        assert!(Arc::ptr_eq(&a, &b));
        let c = cache.call(&ins, &bound, &s("chat"), &s("anthropic"), &s("m1"), None);
        assert!(!Arc::ptr_eq(&a, &c));
        for set in [&a.base, &a.input, &a.output, &a.unpriced] {
            assert!(set.windows(2).all(|w| w[0].key < w[1].key));
        }
        assert_eq!(a.input.len(), 4);
        a.add_cost(
            &ins,
            &Cost {
                amount: 1.0,
                currency: s("USD"),
            },
        );
        let usd = a.cost(&s("USD"));
        assert_eq!(usd.len(), 4);
        assert!(usd.windows(2).all(|w| w[0].key < w[1].key));
        assert!(usd.iter().any(|kv| kv.key.as_str() == "gen_ai.agent.name"));
        assert_eq!(c.cost(&s("EUR")).len(), 3);
        assert!(c
            .cost(&s("USD"))
            .iter()
            .any(|kv| kv.value.as_str() == "USD"));
        let e = a.with_error("timeout");
        assert!(e.iter().any(|kv| kv.key.as_str() == "error.type"));
    }

    #[test]
    fn bounded_and_names_shared() {
        let ins = instruments();
        let bound = LabelValues::default();
        let cache = LabelCache::default();
        for i in 0..(CAP + 10) {
            let m = StringValue::from(format!("m{i}"));
            let l = cache.call(&ins, &bound, &s("chat"), &s("p"), &m, None);
            assert_eq!(l.key.model.as_str(), m.as_str());
            let label = if i < MAX_LABEL_VALUES {
                m.as_str()
            } else {
                "_OTHER"
            };
            assert_eq!(l.model.as_str(), label, "bounded label value");
        }
        assert_eq!(cache.calls.read().map(|m| m.len()).unwrap_or(0), CAP);
        let n1 = cache.span_name("chat", "gpt-4o");
        let n2 = cache.span_name("chat", "gpt-4o");
        assert_eq!(&*n1, "chat gpt-4o");
        assert!(Arc::ptr_eq(&n1, &n2));
    }

    #[test]
    fn hash_separates_parts() {
        assert_ne!(
            hash_strs(&[Some("ab"), Some("c")]),
            hash_strs(&[Some("a"), Some("bc")])
        );
        assert_ne!(
            hash_strs(&[Some("a"), None]),
            hash_strs(&[Some("a"), Some("")])
        );
    }
}
