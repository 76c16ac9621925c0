//! Price overrides: user-supplied prices from the builder, a TOML/JSON file or `BAKER_LLM_PRICES_FILE`.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One model's price, per million tokens, in any currency.
///
/// An override with `provider = None` matches the model under any provider. Overrides win over
/// the genai-prices database.
///
/// ```
/// use baker_otel_llm::PriceOverride;
/// let p = PriceOverride::new("llama-3-70b-private", 0.5, 1.5).provider("internal").currency("EUR");
/// assert_eq!(p.currency, "EUR");
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PriceOverride {
    /// `gen_ai.provider.name` this price applies to; `None` = any provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Model id (`gen_ai.request.model`), matched case-insensitively.
    pub model: String,
    /// ISO 4217 code (three upper-case letters), default `USD`.
    #[serde(default = "usd")]
    pub currency: String,
    /// Price of one million uncached input tokens.
    pub input_per_mtok: f64,
    /// Price of one million output tokens.
    pub output_per_mtok: f64,
    /// Price of one million cache-read input tokens (default: the input price).
    #[serde(default)]
    pub cache_read_per_mtok: Option<f64>,
    /// Price of one million cache-write input tokens (default: the input price).
    #[serde(default)]
    pub cache_write_per_mtok: Option<f64>,
    /// Fixed price per request (default 0).
    #[serde(default)]
    pub per_request: f64,
}

fn usd() -> String {
    "USD".to_owned()
}

impl PriceOverride {
    /// A USD price for `model` under any provider.
    pub fn new(model: impl Into<String>, input_per_mtok: f64, output_per_mtok: f64) -> Self {
        Self {
            provider: None,
            model: model.into(),
            currency: usd(),
            input_per_mtok,
            output_per_mtok,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
            per_request: 0.0,
        }
    }
    /// Restricts the price to one provider.
    #[must_use]
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }
    /// Sets the currency (ISO 4217).
    #[must_use]
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = currency.into();
        self
    }
    /// Sets the cache-read and cache-write prices per million tokens.
    #[must_use]
    pub fn cache_prices(mut self, read_per_mtok: f64, write_per_mtok: f64) -> Self {
        self.cache_read_per_mtok = Some(read_per_mtok);
        self.cache_write_per_mtok = Some(write_per_mtok);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), PricingError> {
        let bad = |reason: &str| {
            Err(PricingError::Invalid {
                model: self.model.clone(),
                reason: reason.to_owned(),
            })
        };
        if self.model.trim().is_empty() {
            return bad("empty model id");
        }
        let c = self.currency.as_bytes();
        if c.len() != 3 || !c.iter().all(u8::is_ascii_uppercase) {
            return bad("currency must be an ISO 4217 code such as USD or EUR");
        }
        let prices = [
            Some(self.input_per_mtok),
            Some(self.output_per_mtok),
            self.cache_read_per_mtok,
            self.cache_write_per_mtok,
            Some(self.per_request),
        ];
        if prices
            .into_iter()
            .flatten()
            .any(|p| !p.is_finite() || p < 0.0)
        {
            return bad("prices must be finite and not negative");
        }
        Ok(())
    }
}

/// The file format: `{"models": [ ... ]}` in JSON or `[[models]]` tables in TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    models: Vec<PriceOverride>,
}

/// Errors from loading prices.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PricingError {
    /// The file could not be read.
    #[error("cannot read price file {path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML/JSON of the expected shape.
    #[error("invalid {format} price file {path}: {message}")]
    Parse {
        /// File path.
        path: PathBuf,
        /// `json` or `toml`.
        format: &'static str,
        /// Parser message (with line/column).
        message: String,
    },
    /// The extension is neither `.json` nor `.toml`.
    #[error("price file {0} must end in .json or .toml")]
    UnknownFormat(PathBuf),
    /// An entry is semantically invalid.
    #[error("invalid price for model {model:?}: {reason}")]
    Invalid {
        /// Model id of the entry.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// Replacement price data for genai-prices could not be decoded.
    #[error("invalid genai-prices data: {0}")]
    Data(String),
}

/// Parses price overrides from file contents; `format` is `"json"` or `"toml"`.
///
/// ```
/// let toml = r#"
/// [[models]]
/// provider = "internal"
/// model = "llama-private"
/// currency = "EUR"
/// input_per_mtok = 0.5
/// output_per_mtok = 1.5
/// "#;
/// let prices = baker_otel_llm::pricing::parse_overrides(toml, "toml", "prices.toml".as_ref()).unwrap();
/// assert_eq!(prices[0].currency, "EUR");
/// let err = baker_otel_llm::pricing::parse_overrides("{", "json", "p.json".as_ref()).unwrap_err();
/// assert!(matches!(err, baker_otel_llm::PricingError::Parse { .. }));
/// ```
pub fn parse_overrides(
    text: &str,
    format: &str,
    path: &Path,
) -> Result<Vec<PriceOverride>, PricingError> {
    let file: PriceFile = match format {
        "json" => serde_json::from_str(text).map_err(|e| PricingError::Parse {
            path: path.to_owned(),
            format: "json",
            message: e.to_string(),
        })?,
        "toml" => toml::from_str(text).map_err(|e| PricingError::Parse {
            path: path.to_owned(),
            format: "toml",
            message: e.to_string(),
        })?,
        _ => return Err(PricingError::UnknownFormat(path.to_owned())),
    };
    for m in &file.models {
        m.validate()?;
    }
    Ok(file.models)
}

/// Loads overrides from a `.json` or `.toml` file.
///
/// ```
/// let err = baker_otel_llm::pricing::load_overrides("/nonexistent/prices.toml").unwrap_err();
/// assert!(matches!(err, baker_otel_llm::PricingError::Io { .. }));
/// ```
pub fn load_overrides(path: impl AsRef<Path>) -> Result<Vec<PriceOverride>, PricingError> {
    let path = path.as_ref();
    let format = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => "json",
        Some("toml") => "toml",
        _ => return Err(PricingError::UnknownFormat(path.to_owned())),
    };
    let text = std::fs::read_to_string(path).map_err(|source| PricingError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_overrides(&text, format, path)
}
