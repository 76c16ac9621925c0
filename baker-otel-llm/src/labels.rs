//! Precomputed metric attribute sets and span names for the LLM hot path.
//!
//! The labels of one LLM call's metrics (operation, provider, request model, token type,
//! agent, currency) repeat from call to call, so they are built once per
//! `(operation, provider, model, agent)` as already-sorted `Arc<[KeyValue]>` slices (the SDK
//! looks the slice up as given, then sorted: sorted input makes both the same entry) and kept in
//! a small bounded map keyed by a hash of the borrowed strings. Recording is then
//! `histogram.record(v, &labels.input)`: no `KeyValue` is built or cloned per call. A full map
//! (or a hash collision) falls back to building the labels for that call.

use crate::semconv as sc;
use opentelemetry::{KeyValue, StringValue};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock, RwLock};

/// Entries kept per map; beyond this, labels are built per call (bounded memory).
pub(crate) const CAP: usize = 1024;

/// Small, fast, non-cryptographic hasher (the rustc "Fx" mix) for short label strings. Keys are
/// always verified after a hit, so collisions only cost the fallback.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(26) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(26) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        // Length separates ("ab","c") from ("a","bc").
        self.0 = (self.0.rotate_left(26) ^ bytes.len() as u64).wrapping_mul(K);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Hash of a tuple of borrowed strings (`None` hashes differently from `""`).
#[inline]
pub(crate) fn hash_strs(parts: &[Option<&str>]) -> u64 {
    let mut h = Fx::default();
    for p in parts {
        match p {
            Some(s) => h.write(s.as_bytes()),
            None => h.write_u64(u64::MAX),
        }
    }
    h.finish()
}

/// A map pre-hashed by the caller: the `u64` key is already a hash.
pub(crate) type PreHashed<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// Passes a pre-computed `u64` hash through.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The metric attribute sets of one `(operation, provider, model, agent)`, sorted by key.
#[derive(Debug)]
pub(crate) struct CallLabels {
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
    cost: OnceLock<(StringValue, Arc<[KeyValue]>)>,
}

fn sorted(mut v: Vec<KeyValue>) -> Arc<[KeyValue]> {
    v.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    v.into()
}

/// A `StringValue` that clones without allocating (static or reference-counted).
fn shareable(v: &StringValue) -> StringValue {
    StringValue::from(Arc::<str>::from(v.as_str()))
}

impl CallLabels {
    pub(crate) fn new(
        operation: &StringValue,
        provider: &StringValue,
        model: &StringValue,
        agent: Option<&StringValue>,
    ) -> Self {
        let (op, p, m) = (shareable(operation), shareable(provider), shareable(model));
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
        Self {
            unpriced: sorted(vec![
                kv(sc::GEN_AI_PROVIDER_NAME, &p),
                kv(sc::GEN_AI_REQUEST_MODEL, &m),
            ]),
            base: sorted(base),
            input,
            output,
            agent: agent.map(shareable),
            operation: op,
            provider: p,
            model: m,
            cost: OnceLock::new(),
        }
    }

    fn matches(&self, op: &str, provider: &str, model: &str, agent: Option<&str>) -> bool {
        self.model.as_str() == model
            && self.provider.as_str() == provider
            && self.operation.as_str() == op
            && self.agent.as_ref().map(StringValue::as_str) == agent
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
    pub(crate) fn cost(&self, currency: &StringValue) -> Arc<[KeyValue]> {
        let (cur, labels) = self
            .cost
            .get_or_init(|| (shareable(currency), self.build_cost(currency)));
        if cur == currency {
            labels.clone()
        } else {
            self.build_cost(currency)
        }
    }

    /// Duration labels plus `error.type`.
    pub(crate) fn with_error(&self, error_type: &str) -> Vec<KeyValue> {
        let mut v = self.base.to_vec();
        v.push(KeyValue::new(sc::ERROR_TYPE, error_type.to_owned()));
        v.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        v
    }
}

/// Bounded concurrent map of [`CallLabels`] and dynamic span names.
#[derive(Debug, Default)]
pub(crate) struct LabelCache {
    calls: RwLock<PreHashed<Arc<CallLabels>>>,
    names: RwLock<PreHashed<(Box<str>, Box<str>, Arc<str>)>>,
}

impl LabelCache {
    /// The labels of one call, from the cache when possible.
    pub(crate) fn call(
        &self,
        operation: &StringValue,
        provider: &StringValue,
        model: &StringValue,
        agent: Option<&StringValue>,
    ) -> Arc<CallLabels> {
        let (o, p, m) = (operation.as_str(), provider.as_str(), model.as_str());
        let a = agent.map(StringValue::as_str);
        let h = hash_strs(&[Some(o), Some(p), Some(m), a]);
        if let Ok(map) = self.calls.read() {
            if let Some(e) = map.get(&h) {
                if e.matches(o, p, m, a) {
                    return e.clone();
                }
                // Collision: build for this call, keep the cached entry.
                return Arc::new(CallLabels::new(operation, provider, model, agent));
            }
        }
        let labels = Arc::new(CallLabels::new(operation, provider, model, agent));
        if let Ok(mut map) = self.calls.write() {
            if map.len() < CAP {
                map.entry(h).or_insert_with(|| labels.clone());
            }
        }
        labels
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

    fn s(v: &'static str) -> StringValue {
        StringValue::from(v)
    }

    #[test]
    fn labels_are_sorted_cached_and_complete() {
        let cache = LabelCache::default();
        let agent = s("planner");
        let a = cache.call(&s("chat"), &s("anthropic"), &s("m1"), Some(&agent));
        let b = cache.call(&s("chat"), &s("anthropic"), &s("m1"), Some(&agent));
        assert!(Arc::ptr_eq(&a, &b));
        let c = cache.call(&s("chat"), &s("anthropic"), &s("m1"), None);
        assert!(!Arc::ptr_eq(&a, &c));
        for set in [&a.base, &a.input, &a.output, &a.unpriced] {
            assert!(set.windows(2).all(|w| w[0].key < w[1].key));
        }
        assert_eq!(a.input.len(), 4);
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
        let cache = LabelCache::default();
        for i in 0..(CAP + 10) {
            let m = StringValue::from(format!("m{i}"));
            let l = cache.call(&s("chat"), &s("p"), &m, None);
            assert_eq!(l.model.as_str(), m.as_str());
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
