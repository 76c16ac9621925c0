//! Cost of LLM calls: the genai-prices database plus user overrides, resolved once per model.
//!
//! * The genai-prices data (USD) is decoded **once**, when [`Pricing`] is built (normally by
//!   [`LlmTelemetry::builder`](crate::LlmTelemetry::builder)`…build()`), never on the first call.
//! * Overrides ([`PriceOverride`]: builder, a `.toml`/`.json` file, `BAKER_LLM_PRICES_FILE`) win over
//!   the database and may use any currency.
//! * Each `(provider, model)` is resolved to per-token rates the first time it is seen (or at
//!   build time with `preload_model`) and cached; a lookup is then two hash probes and a few
//!   multiplications. genai-prices' long-context tiers are honoured: a cached rate is only used
//!   below the tier threshold found at resolution, larger requests go through the exact
//!   calculator. Database entries are re-resolved hourly so time-dependent prices stay current.
//! * An unknown model yields `None` (the caller counts `baker.llm.unpriced_calls`): no guess.
//!
//! ```
//! use baker_otel_llm::{pricing::Pricing, Usage};
//! let pricing = Pricing::bundled();
//! let usage = Usage { input_tokens: 100_000, output_tokens: 0, ..Default::default() };
//! let cost = pricing.cost("anthropic", "claude-sonnet-4-5", &usage).unwrap();
//! assert_eq!(cost.currency.as_str(), "USD");
//! assert!(cost.amount > 0.0);
//! assert!(pricing.cost("anthropic", "no-such-model-xyz", &usage).is_none());
//! ```

mod file;

pub use file::{load_overrides, parse_overrides, PriceOverride, PricingError};

use crate::hashing::{hash_strs, PreHashed};
use crate::Usage;
use genai_prices::{Calculator, PriceRequest, UsageKey};
use opentelemetry::StringValue;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Cost of one call (or a sum of calls) in one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// Amount in `currency`.
    pub amount: f64,
    /// ISO 4217 code.
    pub currency: StringValue,
}

/// Per-token rates (price per token, not per million).
#[derive(Debug, Clone)]
struct Rate {
    currency: StringValue,
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
    per_request: f64,
    /// The rate is exact only while `input_tokens` is below this (long-context tiers).
    below_input: u64,
}

impl Rate {
    fn from_override(o: &PriceOverride) -> Self {
        let m = 1e-6;
        Self {
            currency: StringValue::from(Arc::<str>::from(o.currency.as_str())),
            input: o.input_per_mtok * m,
            output: o.output_per_mtok * m,
            cache_read: o.cache_read_per_mtok.unwrap_or(o.input_per_mtok) * m,
            cache_write: o.cache_write_per_mtok.unwrap_or(o.input_per_mtok) * m,
            per_request: o.per_request,
            below_input: u64::MAX,
        }
    }

    #[inline]
    fn apply(&self, u: &Usage) -> f64 {
        let cached = u
            .cache_read_input_tokens
            .saturating_add(u.cache_creation_input_tokens);
        let uncached = u.input_tokens.saturating_sub(cached) as f64;
        self.per_request
            + uncached * self.input
            + u.cache_read_input_tokens as f64 * self.cache_read
            + u.cache_creation_input_tokens as f64 * self.cache_write
            + u.output_tokens as f64 * self.output
    }
}

#[derive(Debug, Clone)]
enum Resolved {
    /// Linear rate (exact below `below_input`).
    Linear(Rate),
    /// Priced only through the exact calculator.
    Exact,
    /// No price known.
    Unpriced,
}

#[derive(Debug, Clone)]
struct Entry {
    resolved: Resolved,
    /// `None` for overrides (never re-resolved).
    at: Option<Instant>,
}

enum Db {
    None,
    Bundled(&'static Calculator),
    Owned(Box<Calculator>),
}

impl Db {
    fn get(&self) -> Option<&Calculator> {
        match self {
            Db::None => None,
            Db::Bundled(c) => Some(c),
            Db::Owned(c) => Some(c),
        }
    }
}

/// hash(provider, model) → (provider, model, resolved price): one probe, no allocation per lookup.
type Cache = PreHashed<(Box<str>, Box<str>, Entry)>;

const CACHE_CAP: usize = 4096;
const REFRESH: Duration = Duration::from_secs(3600);

struct Inner {
    db: Db,
    overrides: Vec<PriceOverride>,
    cache: RwLock<Cache>,
}

/// Price lookup and cost computation. Cheap to clone.
///
/// ```
/// use baker_otel_llm::{pricing::Pricing, PriceOverride, Usage};
/// let pricing = Pricing::builder()
///     .bundled(false)
///     .price_override(PriceOverride::new("my-llm", 1.0, 2.0).currency("EUR"))
///     .build()?;
/// let c = pricing.cost("internal", "my-llm", &Usage { input_tokens: 1000, output_tokens: 1000, ..Default::default() }).unwrap();
/// assert_eq!(c.currency.as_str(), "EUR");
/// assert!((c.amount - 0.003).abs() < 1e-12);
/// # Ok::<(), baker_otel_llm::PricingError>(())
/// ```
#[derive(Clone)]
pub struct Pricing {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pricing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pricing")
            .field("database", &self.inner.db.get().is_some())
            .field("overrides", &self.inner.overrides.len())
            .finish_non_exhaustive()
    }
}

/// Builder for [`Pricing`].
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub struct PricingBuilder {
    bundled: bool,
    data: Option<Vec<u8>>,
    overrides: Vec<PriceOverride>,
    files: Vec<std::path::PathBuf>,
    preload: Vec<(String, String)>,
}

impl Default for PricingBuilder {
    fn default() -> Self {
        Self {
            bundled: true,
            data: None,
            overrides: Vec::new(),
            files: Vec::new(),
            preload: Vec::new(),
        }
    }
}

impl PricingBuilder {
    /// Use the genai-prices data bundled in the binary (default `true`).
    pub fn bundled(mut self, on: bool) -> Self {
        self.bundled = on;
        self
    }
    /// Use newer genai-prices data (v2 JSON, e.g. downloaded from the project) instead of the bundled copy.
    pub fn data_json(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = Some(data.into());
        self
    }
    /// Adds or replaces one model's price.
    pub fn price_override(mut self, p: PriceOverride) -> Self {
        self.overrides.push(p);
        self
    }
    /// Loads overrides from a `.toml` or `.json` file at build time.
    pub fn overrides_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }
    /// Resolves `(provider, model)` at build time so even the first call takes the fast path.
    pub fn preload_model(mut self, provider: impl Into<String>, model: impl Into<String>) -> Self {
        self.preload.push((provider.into(), model.into()));
        self
    }

    /// Decodes the database and validates every override.
    pub fn build(self) -> Result<Pricing, PricingError> {
        let db = match (self.data, self.bundled) {
            (Some(d), _) => Db::Owned(Box::new(
                Calculator::from_json(d).map_err(|e| PricingError::Data(e.to_string()))?,
            )),
            (None, true) => Db::Bundled(Calculator::bundled()),
            (None, false) => Db::None,
        };
        let mut overrides = Vec::new();
        for f in &self.files {
            overrides.extend(load_overrides(f)?);
        }
        for o in self.overrides {
            o.validate()?;
            overrides.push(o);
        }
        // Later entries win: keep them first for the linear scan.
        overrides.reverse();
        let pricing = Pricing {
            inner: Arc::new(Inner {
                db,
                overrides,
                cache: RwLock::new(Cache::default()),
            }),
        };
        for (p, m) in &self.preload {
            pricing.lookup(p, m);
        }
        Ok(pricing)
    }
}

impl Pricing {
    /// A builder (bundled database on, no overrides).
    pub fn builder() -> PricingBuilder {
        PricingBuilder::default()
    }

    /// The bundled database without overrides.
    pub fn bundled() -> Self {
        Self::builder().build().unwrap_or_else(|_| Self::disabled())
    }

    /// Prices nothing: every call is unpriced.
    pub fn disabled() -> Self {
        Self {
            inner: Arc::new(Inner {
                db: Db::None,
                overrides: Vec::new(),
                cache: RwLock::new(Cache::default()),
            }),
        }
    }

    /// The cost of one call, or `None` when no price is known for `(provider, model)`.
    pub fn cost(&self, provider: &str, model: &str, usage: &Usage) -> Option<Cost> {
        match self.lookup(provider, model) {
            Resolved::Unpriced => None,
            Resolved::Linear(rate) if usage.input_tokens < rate.below_input => Some(Cost {
                amount: rate.apply(usage),
                currency: rate.currency,
            }),
            Resolved::Linear(_) | Resolved::Exact => self.exact(provider, model, usage),
        }
    }

    fn lookup(&self, provider: &str, model: &str) -> Resolved {
        let h = hash_strs(&[Some(provider), Some(model)]);
        let mut collision = false;
        if let Ok(cache) = self.inner.cache.read() {
            if let Some((p, m, e)) = cache.get(&h) {
                if &**p == provider && &**m == model {
                    if e.at.is_none_or(|t| t.elapsed() < REFRESH) {
                        return e.resolved.clone();
                    }
                } else {
                    collision = true;
                }
            }
        }
        let entry = self.resolve(provider, model);
        let resolved = entry.resolved.clone();
        if collision {
            return resolved;
        }
        if let Ok(mut cache) = self.inner.cache.write() {
            if cache.len() < CACHE_CAP || cache.contains_key(&h) {
                cache.insert(h, (provider.into(), model.into(), entry));
            }
        }
        resolved
    }

    fn resolve(&self, provider: &str, model: &str) -> Entry {
        let o = self.inner.overrides.iter().find(|o| {
            o.model.eq_ignore_ascii_case(model)
                && o.provider
                    .as_deref()
                    .is_none_or(|p| p.eq_ignore_ascii_case(provider))
        });
        if let Some(o) = o {
            return Entry {
                resolved: Resolved::Linear(Rate::from_override(o)),
                at: None,
            };
        }
        let resolved = match self.inner.db.get() {
            Some(calc) => probe(calc, db_provider(provider), model),
            None => Resolved::Unpriced,
        };
        Entry {
            resolved,
            at: Some(Instant::now()),
        }
    }

    fn exact(&self, provider: &str, model: &str, u: &Usage) -> Option<Cost> {
        let calc = self.inner.db.get()?;
        let usage = db_usage(u);
        let p = calc
            .calculate(&PriceRequest::new(model, &usage).with_provider_id(db_provider(provider)))
            .ok()?;
        p.total_price.is_finite().then(|| Cost {
            amount: p.total_price,
            currency: StringValue::from("USD"),
        })
    }
}

/// Maps `gen_ai.provider.name` well-known values to genai-prices provider ids.
fn db_provider(provider: &str) -> &str {
    match provider {
        "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" => "google",
        "aws.bedrock" => "aws",
        "azure.ai.openai" | "azure.ai.inference" => "azure",
        "mistral_ai" => "mistral",
        "x_ai" => "x-ai",
        "moonshot_ai" => "moonshotai",
        "ibm.watsonx.ai" => "ibm",
        other => other,
    }
}

fn db_usage(u: &Usage) -> genai_prices::Usage {
    let mut usage = genai_prices::Usage::new();
    usage.insert(UsageKey::INPUT_TOKENS, u.input_tokens as f64);
    usage.insert(UsageKey::OUTPUT_TOKENS, u.output_tokens as f64);
    if u.cache_read_input_tokens > 0 {
        usage.insert(
            UsageKey::CACHE_READ_TOKENS,
            u.cache_read_input_tokens as f64,
        );
    }
    if u.cache_creation_input_tokens > 0 {
        usage.insert(
            UsageKey::CACHE_WRITE_TOKENS,
            u.cache_creation_input_tokens as f64,
        );
    }
    usage
}

/// Resolves a database model to linear rates by pricing probe usages.
fn probe(calc: &Calculator, provider: &str, model: &str) -> Resolved {
    let price = |u: Usage| -> Option<f64> {
        let usage = db_usage(&u);
        calc.calculate(&PriceRequest::new(model, &usage).with_provider_id(provider))
            .ok()
            .map(|p| p.total_price)
            .filter(|p| p.is_finite())
    };
    let u = |i: u64, o: u64, cr: u64, cw: u64| Usage {
        input_tokens: i,
        output_tokens: o,
        cache_read_input_tokens: cr,
        cache_creation_input_tokens: cw,
        reasoning_output_tokens: 0,
    };
    const N: u64 = 1000;
    let Some(base) = price(u(0, 0, 0, 0)) else {
        return Resolved::Unpriced;
    };
    let per = |p: Option<f64>| p.map(|p| (p - base) / N as f64);
    let (Some(input), Some(output), Some(cache_read), Some(cache_write)) = (
        per(price(u(N, 0, 0, 0))),
        per(price(u(0, N, 0, 0))),
        per(price(u(N, 0, N, 0))),
        per(price(u(N, 0, 0, N))),
    ) else {
        return Resolved::Exact;
    };
    let mut rate = Rate {
        currency: StringValue::from("USD"),
        input,
        output,
        cache_read,
        cache_write,
        per_request: base,
        below_input: u64::MAX,
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 + 1e-9 * a.abs().max(b.abs());
    let linear_at = |rate: &Rate, x: u64| {
        price(u(x, 0, 0, 0)).is_some_and(|p| close(p, rate.apply(&u(x, 0, 0, 0))))
    };
    // Find the first input size where the linear rate stops being exact (long-context tier).
    const MAX: u64 = 1 << 30;
    if !linear_at(&rate, MAX) {
        let (mut lo, mut hi) = (N, MAX); // linear at lo, not at hi
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if linear_at(&rate, mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        rate.below_input = hi;
    }
    // Sanity check a mixed request just below the threshold; otherwise use the exact path.
    let x = rate.below_input.min(MAX).saturating_sub(1).max(N);
    let mixed = u(x, 7 * N, x / 4, x / 8);
    match price(mixed) {
        Some(p) if close(p, rate.apply(&mixed)) => Resolved::Linear(rate),
        _ => Resolved::Exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_matches_exact_calculator() {
        let pricing = Pricing::bundled();
        for (p, m) in [
            ("anthropic", "claude-sonnet-4-5"),
            ("openai", "gpt-4o"),
            ("gcp.gemini", "gemini-2.5-pro"),
        ] {
            for usage in [
                Usage {
                    input_tokens: 5000,
                    output_tokens: 300,
                    cache_read_input_tokens: 1000,
                    cache_creation_input_tokens: 500,
                    reasoning_output_tokens: 0,
                },
                Usage {
                    input_tokens: 300_000,
                    output_tokens: 300,
                    ..Default::default()
                },
            ] {
                let fast = pricing
                    .cost(p, m, &usage)
                    .unwrap_or_else(|| panic!("{m} priced"));
                let exact = pricing.exact(p, m, &usage).unwrap();
                assert!(
                    (fast.amount - exact.amount).abs() < 1e-9,
                    "{m}: {} vs {}",
                    fast.amount,
                    exact.amount
                );
            }
        }
    }

    #[test]
    fn tiers_detected() {
        let pricing = Pricing::bundled();
        match pricing.lookup("anthropic", "claude-sonnet-4-5") {
            Resolved::Linear(r) => assert_eq!(r.below_input, 200_001, "tier threshold"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_is_unpriced() {
        let pricing = Pricing::bundled();
        assert!(pricing
            .cost("nobody", "nothing-at-all", &Usage::default())
            .is_none());
        assert!(Pricing::disabled()
            .cost("anthropic", "claude-sonnet-4-5", &Usage::default())
            .is_none());
    }

    #[test]
    fn override_wins_and_is_case_insensitive() {
        let pricing = Pricing::builder()
            .price_override(
                PriceOverride::new("Claude-Sonnet-4-5", 1.0, 1.0)
                    .provider("anthropic")
                    .currency("EUR"),
            )
            .build()
            .unwrap();
        let c = pricing
            .cost(
                "anthropic",
                "claude-sonnet-4-5",
                &Usage {
                    input_tokens: 1_000_000,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(c.currency.as_str(), "EUR");
        assert!((c.amount - 1.0).abs() < 1e-12);
        let usd = pricing.cost(
            "aws.bedrock",
            "claude-sonnet-4-5",
            &Usage {
                input_tokens: 1_000_000,
                ..Default::default()
            },
        );
        assert_ne!(
            usd.map(|c| c.currency.as_str().to_owned()).as_deref(),
            Some("EUR")
        );
    }

    #[test]
    fn invalid_override_is_typed_error() {
        let err = Pricing::builder()
            .price_override(PriceOverride::new("m", -1.0, 1.0))
            .build()
            .unwrap_err();
        assert!(matches!(err, PricingError::Invalid { .. }));
        let err = Pricing::builder()
            .price_override(PriceOverride::new("m", 1.0, 1.0).currency("euro"))
            .build()
            .unwrap_err();
        assert!(matches!(err, PricingError::Invalid { .. }));
    }
}
