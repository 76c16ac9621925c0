//! [`LlmTelemetry`]: the process-wide GenAI instrumentation state (instruments, prices, content
//! policy, budgets), built once at start-up.

use crate::content::CapturePolicy;
use crate::labels::{LabelCache, LabelValues};
use crate::ledger::Ledger;
use crate::metrics::{Instruments, MemoryStoreStats};
use crate::pricing::{Cost, PriceOverride, Pricing, PricingBuilder, PricingError};
use crate::semconv::{Names, SemconvMode};
use baker_otel::config::EnvSource;
use baker_otel::TelemetryHandle;
use opentelemetry::KeyValue;
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

/// Building [`LlmTelemetry`] failed.
///
/// ```
/// let err = baker_otel_llm::LlmInitError::from(baker_otel::ConfigError::invalid(
///     "BAKER_LLM_JOB_BUDGET_USD", "-1", "expected a non-negative number",
/// ));
/// assert!(err.to_string().contains("BAKER_LLM_JOB_BUDGET_USD"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmInitError {
    /// The price data or an overrides file could not be used.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// A setting (environment variable or builder option) was invalid.
    #[error(transparent)]
    Config(#[from] baker_otel::ConfigError),
}

/// Builder of [`LlmTelemetry`]; builder settings win over environment variables.
///
/// ```no_run
/// use baker_otel_llm::{Budget, LlmTelemetry, PriceOverride, content::CapturePolicy};
/// let telemetry = baker_otel::init()?;
/// LlmTelemetry::builder(&telemetry)
///     .default_provider("anthropic")
///     .price_override(PriceOverride::new("llama-private", 0.2, 0.6).provider("internal"))
///     .job_budget(Budget::usd(2.0))
///     .capture(CapturePolicy::none())
///     .build()?;                          // decodes prices now, not on the first call
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct LlmTelemetryBuilder {
    hub: Option<TelemetryHandle>,
    env: EnvSource,
    semconv: Option<SemconvMode>,
    capture: Option<CapturePolicy>,
    pricing: PricingBuilder,
    pricing_enabled: bool,
    default_provider: Option<String>,
    job_budget: Option<Budget>,
    conversation_budget: Option<Budget>,
    conversation_capacity: usize,
    conversation_ttl: std::time::Duration,
}

impl std::fmt::Debug for LlmTelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmTelemetryBuilder")
            .field("pricing", &self.pricing)
            .finish_non_exhaustive()
    }
}

impl LlmTelemetryBuilder {
    fn new(hub: Option<&TelemetryHandle>) -> Self {
        Self {
            hub: hub.cloned(),
            env: hub.map_or_else(EnvSource::process, |h| h.env().clone()),
            semconv: None,
            capture: None,
            pricing: Pricing::builder(),
            pricing_enabled: true,
            default_provider: None,
            job_budget: None,
            conversation_budget: None,
            conversation_capacity: crate::ledger::DEFAULT_CAPACITY,
            conversation_ttl: crate::ledger::DEFAULT_TTL,
        }
    }
    /// Reads variables from `env` instead of the hub's environment (tests).
    pub fn env_source(mut self, env: EnvSource) -> Self {
        self.env = env;
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
    /// Bounds the per-conversation cost state (default 10 000 conversations, 24 h idle expiry).
    /// When full, the least-recently-used conversation seen only once is forgotten first; a
    /// conversation charged at least twice is kept over new ids, so a flood of new (or forged)
    /// conversation ids cannot reset the totals of conversations in use. Nothing is ever
    /// cleared as a whole.
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let _llm = baker_otel_llm::LlmTelemetry::builder(capture.telemetry())
    ///     .conversation_budget(baker_otel_llm::Budget::usd(1.0))
    ///     .conversation_state(50_000, std::time::Duration::from_secs(3600))
    ///     .bundled_prices(false)
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn conversation_state(mut self, capacity: usize, idle_ttl: std::time::Duration) -> Self {
        self.conversation_capacity = capacity;
        self.conversation_ttl = idle_ttl;
        self
    }

    /// Builds the state — decodes prices, loads override files, creates the instruments on the
    /// hub's meter provider — and attaches it to the hub: every `llm_span!`, `#[llm_call]`,
    /// tool and memory span running under that hub uses it from now on (replacing the default
    /// state a span may have created before).
    pub fn build(self) -> Result<LlmTelemetry, LlmInitError> {
        let hub = self.hub.clone();
        let shared = Arc::new(self.build_shared()?);
        if let Some(h) = &hub {
            h.attach(shared.clone());
        }
        Ok(LlmTelemetry { shared })
    }

    fn build_shared(self) -> Result<Shared, LlmInitError> {
        let env = &self.env;
        let mode = self.semconv.unwrap_or_else(|| {
            env.get("OTEL_SEMCONV_STABILITY_OPT_IN")
                .map(|v| SemconvMode::from_opt_in(&v))
                .unwrap_or_default()
        });
        let names = Names::for_mode(mode);
        let meter = match &self.hub {
            Some(h) => h.meter(SCOPE),
            None => opentelemetry::global::meter(SCOPE),
        };
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
                    _ => Err(baker_otel::ConfigError::invalid(
                        name,
                        &v,
                        "expected a non-negative number",
                    )
                    .into()),
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
        Ok(Shared {
            mode,
            names,
            instruments: Instruments::new(&meter, names),
            pricing,
            capture: self.capture.unwrap_or_else(|| CapturePolicy::from_env(env)),
            default_provider: opentelemetry::StringValue::from(Arc::<str>::from(provider)),
            job_budget,
            conversation_budget,
            conversations: Mutex::new(Ledger::new(
                self.conversation_capacity,
                self.conversation_ttl,
            )),
            next_store: AtomicU64::new(1),
            error_types: baker_otel::cardinality::BoundedValues::new(MAX_ERROR_TYPES),
            label_values: LabelValues::default(),
            labels: LabelCache::default(),
        })
    }
}

/// Bound on distinct `error.type` values of one hub's GenAI spans and metrics; further values
/// are recorded as `_OTHER`.
pub const MAX_ERROR_TYPES: usize = 50;

/// Instrumentation scope of the GenAI instruments.
pub const SCOPE: &str = "baker-otel-llm";

pub(crate) struct Shared {
    pub(crate) mode: SemconvMode,
    pub(crate) names: Names,
    pub(crate) instruments: Instruments,
    pub(crate) pricing: Option<Pricing>,
    pub(crate) capture: CapturePolicy,
    pub(crate) default_provider: opentelemetry::StringValue,
    pub(crate) job_budget: Option<Budget>,
    pub(crate) conversation_budget: Option<Budget>,
    conversations: Mutex<Ledger>,
    /// Distinct `error.type` values of this hub's GenAI spans and metrics (bounded).
    pub(crate) error_types: baker_otel::cardinality::BoundedValues,
    /// Distinct values of the labels fed by model- or client-chosen text (bounded).
    pub(crate) label_values: LabelValues,
    next_store: AtomicU64,
    /// Metric attribute sets and dynamic span names of the LLM hot path.
    pub(crate) labels: LabelCache,
}

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
        let (before, total) = map.add(conversation, cost.amount, std::time::Instant::now());
        drop(map);
        if before <= b.amount && total > b.amount {
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

/// The state of the current hub (see [`LlmTelemetry::current`]).
pub(crate) fn shared() -> Arc<Shared> {
    match TelemetryHandle::current() {
        Some(hub) => hub.attached_or_insert_with(|h| Arc::new(default_shared(Some(h)))),
        None => {
            static NO_HUB: OnceLock<Arc<Shared>> = OnceLock::new();
            NO_HUB
                .get_or_init(|| Arc::new(default_shared(None)))
                .clone()
        }
    }
}

/// The state a hub gets when nothing was built for it: the defaults and the hub's environment,
/// pricing included; if the environment is invalid (e.g. an unreadable prices file), the
/// defaults without it, and a warning says why.
fn default_shared(hub: Option<&TelemetryHandle>) -> Shared {
    LlmTelemetryBuilder::new(hub)
        .build_shared()
        .unwrap_or_else(|e| {
            tracing::warn!(target: baker_otel::INTERNAL_TARGET, error = %e, "baker-otel-llm: invalid settings in the environment ignored");
            LlmTelemetryBuilder::new(hub)
                .env_source(EnvSource::from_pairs::<&str, &str>([]))
                .build_shared()
                .unwrap_or_else(|_| unreachable!("the defaults are valid"))
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
    /// A builder for the state of `telemetry`'s hub (its meter provider, its environment).
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// let t = baker_otel_llm::LlmTelemetry::builder(capture.telemetry()).bundled_prices(false).build().unwrap();
    /// assert_eq!(t.semconv(), baker_otel_llm::semconv::SemconvMode::V1_41);
    /// ```
    pub fn builder(telemetry: &TelemetryHandle) -> LlmTelemetryBuilder {
        LlmTelemetryBuilder::new(Some(telemetry))
    }

    /// The state the spans of the current hub use: the one built for it, or the defaults
    /// (pricing on, settings from the hub's environment) created on first use. Without any
    /// baker-otel hub in scope, a process-wide default on OpenTelemetry's global meter.
    ///
    /// ```
    /// let capture = baker_otel::testing::Capture::new();
    /// capture.in_scope(|| assert!(baker_otel_llm::LlmTelemetry::current().pricing().is_some()));
    /// ```
    pub fn current() -> LlmTelemetry {
        LlmTelemetry { shared: shared() }
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
    /// let capture = baker_otel::testing::Capture::new();
    /// let t = LlmTelemetry::builder(capture.telemetry()).bundled_prices(false).build().unwrap();
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
