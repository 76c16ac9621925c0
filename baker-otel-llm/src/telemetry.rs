//! [`LlmTelemetry`]: the process-wide GenAI instrumentation state (instruments, prices, content
//! policy, budgets), built once at start-up.

use crate::content::CapturePolicy;
use crate::labels::LabelCache;
use crate::metrics::{Instruments, MemoryStoreStats};
use crate::pricing::{Cost, PriceOverride, Pricing, PricingBuilder, PricingError};
use crate::semconv::{Names, SemconvMode};
use baker_otel::config::EnvSource;
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::KeyValue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A cost limit; going over it logs a warning and counts `baker.llm.budget.exceeded{scope}`.
///
/// ```
/// let b = baker_otel_llm::Budget::usd(5.0);
/// assert_eq!(b.currency, "USD");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Budget {
    /// Limit.
    pub amount: f64,
    /// ISO 4217 currency the limit is in (costs in other currencies do not count).
    pub currency: String,
}

impl Budget {
    /// A limit in US dollars.
    pub fn usd(amount: f64) -> Self {
        Self {
            amount,
            currency: "USD".into(),
        }
    }
    /// A limit in any currency.
    pub fn new(amount: f64, currency: impl Into<String>) -> Self {
        Self {
            amount,
            currency: currency.into(),
        }
    }
}

/// Errors of [`LlmTelemetryBuilder::build`] / [`install`](LlmTelemetryBuilder::install).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmInitError {
    /// Prices could not be loaded.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// `install` was called twice (or after the first instrumented call used the defaults).
    #[error("baker-otel-llm is already installed in this process")]
    AlreadyInstalled,
    /// A configuration value is invalid.
    #[error("invalid {name}={value:?}: {reason}")]
    Config {
        /// Variable or option.
        name: &'static str,
        /// Value.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

/// Builder of [`LlmTelemetry`]; builder settings win over environment variables.
///
/// ```no_run
/// use baker_otel_llm::{Budget, LlmTelemetry, PriceOverride, content::CapturePolicy};
/// let _otel = baker_otel::init()?;
/// LlmTelemetry::builder()
///     .default_provider("anthropic")
///     .price_override(PriceOverride::new("llama-private", 0.2, 0.6).provider("internal"))
///     .job_budget(Budget::usd(2.0))
///     .capture(CapturePolicy::none())
///     .install()?;                        // decodes prices now, not on the first call
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct LlmTelemetryBuilder {
    env: EnvSource,
    meter: Option<Meter>,
    semconv: Option<SemconvMode>,
    capture: Option<CapturePolicy>,
    pricing: PricingBuilder,
    pricing_enabled: bool,
    default_provider: Option<String>,
    job_budget: Option<Budget>,
    conversation_budget: Option<Budget>,
}

impl std::fmt::Debug for LlmTelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmTelemetryBuilder")
            .field("pricing", &self.pricing)
            .finish_non_exhaustive()
    }
}

impl LlmTelemetryBuilder {
    fn new() -> Self {
        Self {
            env: EnvSource::process(),
            meter: None,
            semconv: None,
            capture: None,
            pricing: Pricing::builder(),
            pricing_enabled: true,
            default_provider: None,
            job_budget: None,
            conversation_budget: None,
        }
    }
    /// Reads variables from `env` instead of the process environment (tests).
    pub fn env_source(mut self, env: EnvSource) -> Self {
        self.env = env;
        self
    }
    /// Instruments come from this provider (default: `opentelemetry::global::meter_provider()`).
    pub fn meter_provider<P: MeterProvider + ?Sized>(mut self, provider: &P) -> Self {
        self.meter = Some(provider.meter("baker-otel-llm"));
        self
    }
    /// Forces a semconv generation (default: from `OTEL_SEMCONV_STABILITY_OPT_IN`).
    pub fn semconv(mut self, mode: SemconvMode) -> Self {
        self.semconv = Some(mode);
        self
    }
    /// Content capture policy (default: from env, i.e. off).
    pub fn capture(mut self, policy: CapturePolicy) -> Self {
        self.capture = Some(policy);
        self
    }
    /// `gen_ai.provider.name` for spans that do not name one (default `BAKER_LLM_PROVIDER`, else `_OTHER`).
    pub fn default_provider(mut self, provider: impl Into<String>) -> Self {
        self.default_provider = Some(provider.into());
        self
    }
    /// Turns cost computation off entirely (no cost attributes, no unpriced count).
    pub fn pricing_enabled(mut self, on: bool) -> Self {
        self.pricing_enabled = on;
        self
    }
    /// Use the genai-prices data bundled in the binary (default `true`).
    pub fn bundled_prices(mut self, on: bool) -> Self {
        self.pricing = self.pricing.bundled(on);
        self
    }
    /// Newer genai-prices data (v2 JSON) instead of the bundled copy.
    pub fn price_data_json(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.pricing = self.pricing.data_json(data);
        self
    }
    /// Adds or replaces one model's price.
    pub fn price_override(mut self, p: PriceOverride) -> Self {
        self.pricing = self.pricing.price_override(p);
        self
    }
    /// Loads price overrides from a `.toml`/`.json` file (also `BAKER_LLM_PRICES_FILE`).
    pub fn prices_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.pricing = self.pricing.overrides_file(path);
        self
    }
    /// Resolves a model's price at build time.
    pub fn preload_model(mut self, provider: impl Into<String>, model: impl Into<String>) -> Self {
        self.pricing = self.pricing.preload_model(provider, model);
        self
    }
    /// Per-job budget (also `BAKER_LLM_JOB_BUDGET_USD`), checked by [`JobUsage`](crate::JobUsage).
    pub fn job_budget(mut self, b: Budget) -> Self {
        self.job_budget = Some(b);
        self
    }
    /// Per-conversation budget (also `BAKER_LLM_CONVERSATION_BUDGET_USD`), tracked in this process.
    pub fn conversation_budget(mut self, b: Budget) -> Self {
        self.conversation_budget = Some(b);
        self
    }

    /// Builds the state: decodes prices, loads override files, creates instruments.
    pub fn build(self) -> Result<LlmTelemetry, LlmInitError> {
        let env = &self.env;
        let mode = self.semconv.unwrap_or_else(|| {
            env.get("OTEL_SEMCONV_STABILITY_OPT_IN")
                .map(|v| SemconvMode::from_opt_in(&v))
                .unwrap_or_default()
        });
        let names = Names::for_mode(mode);
        let meter = self
            .meter
            .unwrap_or_else(|| opentelemetry::global::meter("baker-otel-llm"));
        let pricing = if self.pricing_enabled {
            let mut b = self.pricing;
            if let Some(f) = env.get("BAKER_LLM_PRICES_FILE") {
                b = b.overrides_file(f);
            }
            Some(b.build()?)
        } else {
            None
        };
        let budget = |name: &'static str| -> Result<Option<Budget>, LlmInitError> {
            match env.get(name) {
                None => Ok(None),
                Some(v) => match v.parse::<f64>() {
                    Ok(a) if a.is_finite() && a >= 0.0 => Ok(Some(Budget::usd(a))),
                    _ => Err(LlmInitError::Config {
                        name,
                        value: v,
                        reason: "expected a non-negative number",
                    }),
                },
            }
        };
        let job_budget = match self.job_budget {
            Some(b) => Some(b),
            None => budget("BAKER_LLM_JOB_BUDGET_USD")?,
        };
        let conversation_budget = match self.conversation_budget {
            Some(b) => Some(b),
            None => budget("BAKER_LLM_CONVERSATION_BUDGET_USD")?,
        };
        let provider = self
            .default_provider
            .or_else(|| env.get("BAKER_LLM_PROVIDER"))
            .unwrap_or_else(|| "_OTHER".into());
        Ok(LlmTelemetry {
            shared: Arc::new(Shared {
                mode,
                names,
                instruments: Instruments::new(&meter, names),
                pricing,
                capture: self.capture.unwrap_or_else(|| CapturePolicy::from_env(env)),
                default_provider: opentelemetry::StringValue::from(Arc::<str>::from(provider)),
                job_budget,
                conversation_budget,
                conversations: Mutex::new(HashMap::new()),
                next_store: AtomicU64::new(1),
                labels: LabelCache::default(),
            }),
        })
    }

    /// Builds and makes it the process-wide state used by the macros and span handles.
    pub fn install(self) -> Result<LlmTelemetry, LlmInitError> {
        let t = self.build()?;
        GLOBAL
            .set(t.shared.clone())
            .map_err(|_| LlmInitError::AlreadyInstalled)?;
        Ok(t)
    }
}

/// Builds from the environment and installs. Equivalent to `LlmTelemetry::builder().install()`.
///
/// ```no_run
/// let _otel = baker_otel::init()?;
/// baker_otel_llm::init()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn init() -> Result<LlmTelemetry, LlmInitError> {
    LlmTelemetry::builder().install()
}

pub(crate) struct Shared {
    pub(crate) mode: SemconvMode,
    pub(crate) names: Names,
    pub(crate) instruments: Instruments,
    pub(crate) pricing: Option<Pricing>,
    pub(crate) capture: CapturePolicy,
    pub(crate) default_provider: opentelemetry::StringValue,
    pub(crate) job_budget: Option<Budget>,
    pub(crate) conversation_budget: Option<Budget>,
    conversations: Mutex<HashMap<String, f64>>,
    next_store: AtomicU64,
    /// Metric attribute sets and dynamic span names of the LLM hot path.
    pub(crate) labels: LabelCache,
}

const MAX_CONVERSATIONS: usize = 10_000;

impl Shared {
    /// Adds `cost` to the in-process total of `conversation` and enforces the budget.
    pub(crate) fn add_conversation_cost(&self, conversation: &str, cost: &Cost) {
        let Some(b) = &self.conversation_budget else {
            return;
        };
        if cost.currency.as_str() != b.currency {
            return;
        }
        let Ok(mut map) = self.conversations.lock() else {
            return;
        };
        if map.len() >= MAX_CONVERSATIONS && !map.contains_key(conversation) {
            map.clear(); // bounded memory: forget old conversations
        }
        let total = map.entry(conversation.to_owned()).or_insert(0.0);
        let before = *total;
        *total += cost.amount;
        if before <= b.amount && *total > b.amount {
            let total = *total;
            drop(map);
            self.instruments
                .budget_exceeded
                .add(1, &[KeyValue::new("scope", "conversation")]);
            tracing::warn!(
                target: "baker_otel_llm",
                conversation_id = conversation,
                cost = total,
                budget = b.amount,
                currency = b.currency.as_str(),
                "conversation cost budget exceeded"
            );
        }
    }
}

static GLOBAL: OnceLock<Arc<Shared>> = OnceLock::new();

/// The installed state, or defaults from the environment (no prices are decoded then: calls are
/// neither priced nor counted as unpriced until [`LlmTelemetryBuilder::install`] runs).
pub(crate) fn shared() -> &'static Shared {
    GLOBAL.get_or_init(|| {
        let t = LlmTelemetry::builder()
            .pricing_enabled(false)
            .build()
            .unwrap_or_else(|_| {
                LlmTelemetry::builder()
                    .pricing_enabled(false)
                    .env_source(EnvSource::from_pairs::<&str, &str>([]))
                    .build()
                    .unwrap_or_else(|_| unreachable!("defaults are valid"))
            });
        t.shared
    })
}

/// The GenAI instrumentation state. See [`LlmTelemetryBuilder`].
#[derive(Clone)]
pub struct LlmTelemetry {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for LlmTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmTelemetry")
            .field("semconv", &self.shared.mode)
            .field("pricing", &self.shared.pricing)
            .finish_non_exhaustive()
    }
}

impl LlmTelemetry {
    /// A builder.
    ///
    /// ```
    /// let t = baker_otel_llm::LlmTelemetry::builder().bundled_prices(false).build().unwrap();
    /// assert_eq!(t.semconv(), baker_otel_llm::semconv::SemconvMode::V1_41);
    /// ```
    pub fn builder() -> LlmTelemetryBuilder {
        LlmTelemetryBuilder::new()
    }

    /// The installed state (or the env defaults, see [`init`]).
    ///
    /// ```
    /// let _ = baker_otel_llm::LlmTelemetry::global().semconv();
    /// ```
    pub fn global() -> LlmTelemetry {
        shared();
        LlmTelemetry {
            shared: GLOBAL
                .get()
                .cloned()
                .unwrap_or_else(|| unreachable!("initialised above")),
        }
    }

    /// The semconv generation in use.
    pub fn semconv(&self) -> SemconvMode {
        self.shared.mode
    }

    /// The price table, when pricing is enabled.
    pub fn pricing(&self) -> Option<&Pricing> {
        self.shared.pricing.as_ref()
    }

    /// The content policy.
    pub fn capture_policy(&self) -> &CapturePolicy {
        &self.shared.capture
    }

    /// Reports a memory store's size through `baker.memory.store.items` / `baker.memory.store.size`
    /// until the returned registration is dropped. `stats` runs on every metric collection.
    ///
    /// ```
    /// use baker_otel_llm::{LlmTelemetry, MemoryStoreStats};
    /// let t = LlmTelemetry::builder().bundled_prices(false).build().unwrap();
    /// let reg = t.register_memory_store("notes", || MemoryStoreStats { items: 3, bytes: 900 });
    /// drop(reg); // stops reporting
    /// ```
    pub fn register_memory_store(
        &self,
        store: impl Into<String>,
        stats: impl Fn() -> MemoryStoreStats + Send + Sync + 'static,
    ) -> MemoryStoreRegistration {
        let id = self.shared.next_store.fetch_add(1, Ordering::Relaxed);
        let label = KeyValue::new(crate::semconv::BAKER_MEMORY_STORE, store.into());
        if let Ok(mut l) = self.shared.instruments.stores.lock() {
            l.push((id, label, Arc::new(stats)));
        }
        MemoryStoreRegistration {
            id,
            shared: self.shared.clone(),
        }
    }
}

/// Keeps a memory store's size gauges reported; dropping it unregisters the callback.
#[must_use = "dropping the registration stops reporting the store size"]
pub struct MemoryStoreRegistration {
    id: u64,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MemoryStoreRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStoreRegistration")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for MemoryStoreRegistration {
    fn drop(&mut self) {
        if let Ok(mut l) = self.shared.instruments.stores.lock() {
            l.retain(|(id, _, _)| *id != self.id);
        }
    }
}
