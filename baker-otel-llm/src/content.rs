//! Content capture policy: what message content may be recorded, redaction and truncation.
//!
//! Capture is **off** by default. Turn it on globally with
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`, or per category with
//! `BAKER_LLM_CAPTURE=input,output,system_instructions,tool_arguments,tool_results` (or `all`,
//! `none`), or with [`CapturePolicy`] on the builder (builder wins over env).
//! Captured values have secrets replaced by `[REDACTED]` and are cut to `max_bytes`
//! (`BAKER_LLM_CAPTURE_MAX_BYTES`, default 8192) with a `…[truncated N bytes]` marker.
//!
//! ```
//! use baker_otel_llm::content::{CapturePolicy, ContentKind};
//! let policy = CapturePolicy::all().max_bytes(32);
//! let v = policy.prepare(ContentKind::Input, "key sk-ant-api03-abcdefghijklmnopqrstuvwx and a long tail of text").unwrap();
//! assert!(v.starts_with("key [REDACTED]"));
//! assert!(v.contains("[truncated"));
//! assert!(CapturePolicy::none().prepare(ContentKind::Input, "hi").is_none());
//! ```

use baker_otel::config::EnvSource;
use regex::Regex;
use std::borrow::Cow;
use std::sync::Arc;

/// A category of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentKind {
    /// `gen_ai.input.messages`.
    Input,
    /// `gen_ai.output.messages`.
    Output,
    /// `gen_ai.system_instructions`.
    SystemInstructions,
    /// `gen_ai.tool.call.arguments`.
    ToolArguments,
    /// `gen_ai.tool.call.result`.
    ToolResults,
}

impl ContentKind {
    /// Name used in `BAKER_LLM_CAPTURE`.
    ///
    /// ```
    /// assert_eq!(baker_otel_llm::content::ContentKind::ToolResults.as_str(), "tool_results");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
            Self::SystemInstructions => "system_instructions",
            Self::ToolArguments => "tool_arguments",
            Self::ToolResults => "tool_results",
        }
    }
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
    const ALL: [ContentKind; 5] = [
        Self::Input,
        Self::Output,
        Self::SystemInstructions,
        Self::ToolArguments,
        Self::ToolResults,
    ];
}

/// Default secret patterns: `(id, regex)`; the named group `s` is the part replaced by
/// [`REDACTED`] (the rest of the match, such as a key name, is kept). They run one after the
/// other, in this order (specific token formats, URLs, key/value forms, authorization schemes,
/// card numbers), each on the previous one's output, so overlapping forms cannot shield a
/// secret from the rule that knows it.
///
/// Sources: the rule set of gitleaks (`config/gitleaks.toml`: `private-key`,
/// `anthropic-api-key`, `openai-api-key`, `stripe-access-token`, `aws-access-token`,
/// `github-pat`, `gitlab-pat`, `slack-*`, `slack-webhook-url`, `gcp-api-key`,
/// `huggingface-access-token`, `sendgrid-api-token`, `npm-access-token`, `pypi-upload-token`,
/// `twilio-api-key`, `grafana-service-account-token`, `jwt`, `generic-api-key`) and
/// trufflehog's detectors (`uri` for credentials in URLs, `azure_storage` for `AccountKey=`).
/// Key/value forms cover `key=value`, `key: value` (YAML), `"key": "value"` (JSON text) and
/// `?key=value` (URL queries). Card numbers are redacted when they pass the Luhn check.
pub const DEFAULT_SECRET_PATTERNS: &[(&str, &str)] = &[
    (
        "private-key",
        r"(?P<s>-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*))",
    ),
    ("anthropic-api-key", r"(?P<s>\bsk-ant-[A-Za-z0-9_\-]{8,})"),
    (
        "openai-api-key",
        r"(?P<s>\bsk-(?:proj-|svcacct-|admin-|live-|test-)?[A-Za-z0-9_\-]{16,})",
    ),
    (
        "stripe-key",
        r"(?P<s>\b(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}|\bwhsec_[A-Za-z0-9]{20,})",
    ),
    (
        "aws-access-key-id",
        r"(?P<s>\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b)",
    ),
    (
        "aws-secret-access-key",
        r#"(?i:aws)[\w.\-]{0,20}(?i:secret)[\w.\-]{0,20}["']?\s*(?::|=|:=|=>)\s*["']?(?P<s>[A-Za-z0-9/+=]{40})"#,
    ),
    (
        "github-token",
        r"(?P<s>\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,})",
    ),
    (
        "gitlab-token",
        r"(?P<s>\bgl(?:pat|dt|rt|cbt|ptt|ft|soat)-[\w\-]{20,})",
    ),
    ("slack-token", r"(?P<s>\bxox[abeoprs]-[A-Za-z0-9\-]{10,})"),
    (
        "slack-webhook-url",
        r"(?P<s>(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,})",
    ),
    ("gcp-api-key", r"(?P<s>\bAIza[0-9A-Za-z_\-]{20,})"),
    ("huggingface-token", r"(?P<s>\bhf_[A-Za-z0-9]{30,})"),
    (
        "sendgrid-api-key",
        r"(?P<s>\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,})",
    ),
    ("npm-token", r"(?P<s>\bnpm_[A-Za-z0-9]{36})"),
    ("pypi-token", r"(?P<s>pypi-AgEIcHlwaS5vcmc[\w\-]{50,})"),
    ("twilio-api-key", r"(?P<s>\bSK[0-9a-fA-F]{32}\b)"),
    (
        "grafana-token",
        r"(?P<s>\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
    ),
    (
        "jwt",
        r"(?P<s>\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,})",
    ),
    (
        "url-credentials",
        r#"://[^\s:/@"'<>]{1,64}:(?P<s>[^\s@/"'<>]{1,128})@"#,
    ),
    (
        "url-query-secret",
        r#"[?&](?i:key|api[_\-]?key|apikey|token|access_token|refresh_token|id_token|client_secret|secret|password|sig|signature|x-amz-signature|x-goog-signature)=(?P<s>[^&\s"'#<>]+)"#,
    ),
    (
        "sensitive-key-value",
        r#"(?i:\b[\w.\-]{0,40}?(?:passw(?:or)?d|passphrase|pwd|(?:\b|_)pass|secret|token|api[_\-.]?key|apikey|access[_\-.]?key|account[_\-.]?key|private[_\-.]?key|credentials?|authorization|session[_\-.]?id|connection[_\-.]?string|(?:\b|_)dsn)(?:[_\-.][\w.\-]{0,20})?)["']?\s*(?::|=|:=|=>)\s*["']?(?i:(?:basic|bearer|token|digest)\s+)?(?P<s>[^\s"',;&}\]]{1,256})"#,
    ),
    (
        "authorization-scheme",
        r"(?i:\b(?:bearer|basic|digest))\s+(?P<s>[A-Za-z0-9_.=~+/][A-Za-z0-9_\-.=~+/]{7,})",
    ),
    ("card-number", r"(?P<card>\b\d(?:[ \-]?\d){12,18}\b)"),
];

/// Object keys whose values are always redacted in captured JSON (compared after lower-casing
/// and removing `_`, `-`, `.` and spaces: `DB_PASSWORD`, `client-secret` and `accessToken` all
/// match). A key also matches when it *ends* with one of [`SENSITIVE_KEY_SUFFIXES`].
pub const SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "accountkey",
    "privatekey",
    "privatekeyid",
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "sessionid",
    "credential",
    "credentials",
    "connectionstring",
    "dsn",
    "signature",
];

/// Key suffixes that make a key sensitive (`db_password`, `github_token`,
/// `aws_secret_access_key`, `stripe_secret`, …). `tokens` (e.g. `max_tokens`) does not match.
pub const SENSITIVE_KEY_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "accountkey",
    "privatekey",
    "credentials",
];

/// Whether a JSON object key names a secret (see [`SENSITIVE_KEYS`]).
///
/// ```
/// use baker_otel_llm::content::is_sensitive_key;
/// assert!(is_sensitive_key("DB_PASSWORD") && is_sensitive_key("refresh_token"));
/// assert!(is_sensitive_key("clientSecret") && is_sensitive_key("AccountKey"));
/// assert!(!is_sensitive_key("max_tokens") && !is_sensitive_key("content"));
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    if key.len() > 64 {
        return false;
    }
    let norm: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    SENSITIVE_KEYS.contains(&norm.as_str())
        || SENSITIVE_KEY_SUFFIXES.iter().any(|s| norm.ends_with(s))
}

/// The Luhn checksum (card numbers); spaces and dashes are ignored.
///
/// ```
/// assert!(baker_otel_llm::content::luhn_valid("4111 1111 1111 1111"));
/// assert!(!baker_otel_llm::content::luhn_valid("4111 1111 1111 1112"));
/// ```
pub fn luhn_valid(number: &str) -> bool {
    let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() < 13 || digits.len() > 19 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Replaces secrets with `[REDACTED]`: in plain text with [`redact`](Self::redact), and in
/// captured JSON with [`redact_json`](Self::redact_json) — on the *parsed* string values, so
/// `{"password": "hunter2"}` loses `hunter2` whatever the quoting. Cheap to clone.
///
/// ```
/// use baker_otel_llm::content::Redactor;
/// let r = Redactor::default().with_pattern(r"ACME-\d{6}").unwrap();
/// assert_eq!(r.redact("id ACME-123456 ok"), "id [REDACTED] ok");
/// assert_eq!(r.redact("password=hunter2"), "password=[REDACTED]");
/// let mut v = serde_json::json!({"user": "ann", "password": "hunter2"});
/// r.redact_json(&mut v);
/// assert_eq!(v, serde_json::json!({"user": "ann", "password": "[REDACTED]"}));
/// ```
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Arc<Vec<Rule>>,
    patterns: Arc<Vec<String>>,
}

#[derive(Debug)]
struct Rule {
    re: Regex,
    /// The group `s` is redacted (else the whole match).
    group: bool,
    /// Card numbers: redacted only when the Luhn check passes.
    card: bool,
}

/// Marker that replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Largest nesting of JSON-in-JSON strings parsed for redaction.
const MAX_JSON_DEPTH: usize = 64;

impl Default for Redactor {
    /// The [`DEFAULT_SECRET_PATTERNS`], compiled once per process.
    fn default() -> Self {
        static DEFAULT: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let patterns: Vec<String> = DEFAULT_SECRET_PATTERNS
                    .iter()
                    .map(|(_, p)| (*p).to_owned())
                    .collect();
                Self::compile(patterns).unwrap_or_else(|_| Self {
                    rules: Arc::default(),
                    patterns: Arc::default(),
                })
            })
            .clone()
    }
}

impl Redactor {
    fn compile(patterns: Vec<String>) -> Result<Self, regex::Error> {
        let rules = patterns
            .iter()
            .map(|p| {
                let card = p.contains("(?P<card>");
                let body = p.replace("(?P<card>", "(?P<s>");
                Ok(Rule {
                    group: body.contains("(?P<s>"),
                    re: Regex::new(&body)?,
                    card,
                })
            })
            .collect::<Result<Vec<_>, regex::Error>>()?;
        Ok(Self {
            rules: Arc::new(rules),
            patterns: Arc::new(patterns),
        })
    }

    /// Adds a pattern (regex syntax of the `regex` crate), run after the others. The whole match
    /// is redacted, or only the named group `s` when the pattern has one (`token-(?P<s>\d+)`).
    ///
    /// ```
    /// let r = baker_otel_llm::content::Redactor::default().with_pattern(r"emp-(?P<s>\d{4})").unwrap();
    /// assert_eq!(r.redact("badge emp-1234"), "badge emp-[REDACTED]");
    /// ```
    pub fn with_pattern(&self, pattern: &str) -> Result<Self, regex::Error> {
        let mut patterns = (*self.patterns).clone();
        patterns.push(pattern.to_owned());
        Self::compile(patterns)
    }

    /// `text` with every secret replaced by [`REDACTED`].
    ///
    /// ```
    /// use baker_otel_llm::content::Redactor;
    /// let r = Redactor::default();
    /// assert_eq!(r.redact("DB_PASSWORD=hunter2 ok"), "DB_PASSWORD=[REDACTED] ok");
    /// assert_eq!(r.redact("card 4111 1111 1111 1111."), "card [REDACTED].");
    /// assert_eq!(r.redact("order 1234567890123"), "order 1234567890123"); // not Luhn-valid
    /// ```
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for rule in self.rules.iter() {
            let next = match rule
                .re
                .replace_all(&out, |caps: &regex::Captures<'_>| redact_match(rule, caps))
            {
                Cow::Owned(s) => Some(s),
                Cow::Borrowed(_) => None,
            };
            if let Some(s) = next {
                out = Cow::Owned(s);
            }
        }
        out
    }

    /// Redacts a parsed JSON value in place: the value of every [sensitive
    /// key](is_sensitive_key) becomes [`REDACTED`], every other string goes through
    /// [`redact`](Self::redact), and strings that hold JSON themselves (e.g. tool-call
    /// `arguments`) are parsed and redacted the same way.
    ///
    /// ```
    /// let mut v = serde_json::json!([{"role": "tool", "arguments": "{\"client_secret\": \"abc\"}"}]);
    /// baker_otel_llm::content::Redactor::default().redact_json(&mut v);
    /// assert_eq!(v[0]["arguments"], "{\"client_secret\":\"[REDACTED]\"}");
    /// ```
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        let _ = self.redact_value(value, 0);
    }

    /// Redacts `value` in place; whether anything changed.
    fn redact_value(&self, value: &mut serde_json::Value, depth: usize) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Some(inner) = self.redact_embedded_json(s, depth) {
                    let changed = inner != *s;
                    *s = inner;
                    changed
                } else if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                    true
                } else {
                    false
                }
            }
            Value::Array(items) => {
                // Every item, no short-circuit.
                let mut changed = false;
                for v in items {
                    changed |= self.redact_value(v, depth + 1);
                }
                changed
            }
            Value::Object(map) => map.iter_mut().fold(false, |c, (k, v)| {
                if is_sensitive_key(k) && !v.is_null() && v.as_str() != Some(REDACTED) {
                    *v = Value::String(REDACTED.to_owned());
                    true
                } else {
                    self.redact_value(v, depth + 1) || c
                }
            }),
            Value::Number(n) => {
                if luhn_valid(&n.to_string()) {
                    *value = Value::String(REDACTED.to_owned());
                    true
                } else {
                    false
                }
            }
            Value::Null | Value::Bool(_) => false,
        }
    }

    /// A string holding a JSON object or array, redacted (serialised again only when something
    /// was redacted, so untouched JSON keeps its exact text).
    fn redact_embedded_json(&self, s: &str, depth: usize) -> Option<String> {
        let t = s.trim_start();
        if depth >= MAX_JSON_DEPTH || !(t.starts_with('{') || t.starts_with('[')) {
            return None;
        }
        let mut inner: serde_json::Value = serde_json::from_str(t).ok()?;
        if !self.redact_value(&mut inner, depth + 1) {
            return Some(s.to_owned());
        }
        serde_json::to_string(&inner).ok()
    }

    /// `text` redacted: as JSON when it parses as a JSON object or array, else as plain text.
    ///
    /// ```
    /// let r = baker_otel_llm::content::Redactor::default();
    /// assert_eq!(r.redact_text_or_json(r#"{"password": "hunter2"}"#), r#"{"password":"[REDACTED]"}"#);
    /// assert_eq!(r.redact_text_or_json("pwd=hunter2"), "pwd=[REDACTED]");
    /// ```
    pub fn redact_text_or_json(&self, text: &str) -> String {
        self.redact_embedded_json(text, 0)
            .unwrap_or_else(|| self.redact(text).into_owned())
    }
}

/// The replacement of one match of `rule`.
fn redact_match(rule: &Rule, caps: &regex::Captures<'_>) -> String {
    let Some(whole) = caps.get(0) else {
        return String::new();
    };
    let m = if rule.group {
        match caps.name("s") {
            Some(m) => m,
            None => return whole.as_str().to_owned(),
        }
    } else {
        whole
    };
    // Already redacted by an earlier rule, or not a card number after all.
    if m.as_str().starts_with("[REDACTED") || (rule.card && !luhn_valid(m.as_str())) {
        return whole.as_str().to_owned();
    }
    let (a, b) = (m.start() - whole.start(), m.end() - whole.start());
    let w = whole.as_str();
    format!("{}{REDACTED}{}", &w[..a], &w[b..])
}

/// Cuts `text` to at most `max` bytes on a char boundary and appends a marker with the number of
/// bytes removed.
///
/// ```
/// assert_eq!(baker_otel_llm::content::truncate("héllo", 2), "h…[truncated 5 bytes]");
/// assert_eq!(baker_otel_llm::content::truncate("hi", 2), "hi");
/// ```
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut cut = max;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!(
        "{}…[truncated {} bytes]",
        &text[..cut],
        text.len() - cut
    ))
}

/// What content may be recorded. See the [module docs](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct CapturePolicy {
    enabled: u8,
    max_bytes: usize,
    redactor: Redactor,
}

impl Default for CapturePolicy {
    fn default() -> Self {
        Self::none()
    }
}

impl CapturePolicy {
    /// Default maximum size of one captured value.
    pub const DEFAULT_MAX_BYTES: usize = 8192;

    /// Captures nothing (the default).
    pub fn none() -> Self {
        Self {
            enabled: 0,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            redactor: Redactor::default(),
        }
    }
    /// Captures every category.
    pub fn all() -> Self {
        ContentKind::ALL
            .iter()
            .fold(Self::none(), |p, k| p.capture(*k, true))
    }
    /// Switches one category.
    pub fn capture(mut self, kind: ContentKind, on: bool) -> Self {
        if on {
            self.enabled |= kind.bit();
        } else {
            self.enabled &= !kind.bit();
        }
        self
    }
    /// Maximum bytes of one value before truncation.
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }
    /// Replaces the redactor (e.g. `Redactor::default().with_pattern(..)`).
    pub fn redactor(mut self, r: Redactor) -> Self {
        self.redactor = r;
        self
    }
    /// Whether `kind` is captured.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// assert!(!CapturePolicy::none().enabled(ContentKind::Output));
    /// ```
    pub fn enabled(&self, kind: ContentKind) -> bool {
        self.enabled & kind.bit() != 0
    }

    /// The value to record for `kind`: `None` when not captured, else redacted (on the parsed
    /// JSON when `text` is a JSON object or array) and truncated.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let p = CapturePolicy::all();
    /// let v = p.prepare(ContentKind::ToolArguments, r#"{"query": "tea", "api_key": "k-123"}"#).unwrap();
    /// assert_eq!(v, r#"{"query":"tea","api_key":"[REDACTED]"}"#);
    /// ```
    pub fn prepare(&self, kind: ContentKind, text: &str) -> Option<String> {
        if !self.enabled(kind) {
            return None;
        }
        let redacted = self.redactor.redact_text_or_json(text);
        Some(truncate(&redacted, self.max_bytes).into_owned())
    }

    /// Like [`prepare`](Self::prepare) for a value that is already JSON (e.g. from
    /// [`LlmRequest::input_messages`](crate::LlmRequest::input_messages)): redacted on its
    /// string values, serialised, truncated.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let v = serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": "my pwd=hunter2"}]}]);
    /// let out = CapturePolicy::all().prepare_json(ContentKind::Input, v).unwrap();
    /// assert!(out.contains("pwd=[REDACTED]") && !out.contains("hunter2"));
    /// assert!(CapturePolicy::none().prepare_json(ContentKind::Input, serde_json::json!([])).is_none());
    /// ```
    pub fn prepare_json(&self, kind: ContentKind, mut value: serde_json::Value) -> Option<String> {
        if !self.enabled(kind) {
            return None;
        }
        self.redactor.redact_json(&mut value);
        let text = serde_json::to_string(&value).ok()?;
        Some(truncate(&text, self.max_bytes).into_owned())
    }

    /// The span status description of a failed call whose content is of `kind`: `None`
    /// (record the error type only) unless the policy captures `kind`; then redacted and
    /// truncated like content. Provider errors often echo the request body or a `?key=` URL.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let e = "400: bad request for https://api.example.com/v1?key=AIzaSyA-secret";
    /// assert_eq!(CapturePolicy::none().error_description(ContentKind::Output, e), None);
    /// let d = CapturePolicy::all().error_description(ContentKind::Output, e).unwrap();
    /// assert!(d.ends_with("?key=[REDACTED]"), "{d}");
    /// ```
    pub fn error_description(&self, kind: ContentKind, text: &str) -> Option<String> {
        self.prepare(kind, text)
    }

    /// Reads `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, `BAKER_LLM_CAPTURE` and
    /// `BAKER_LLM_CAPTURE_MAX_BYTES`. Unknown category names are ignored with a warning.
    ///
    /// ```
    /// use baker_otel::config::EnvSource;
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let p = CapturePolicy::from_env(&EnvSource::from_pairs([("BAKER_LLM_CAPTURE", "input, tool_results")]));
    /// assert!(p.enabled(ContentKind::Input) && p.enabled(ContentKind::ToolResults));
    /// assert!(!p.enabled(ContentKind::Output));
    /// ```
    pub fn from_env(env: &EnvSource) -> Self {
        let mut p = Self::none();
        if env
            .get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            p = Self::all();
        }
        if let Some(list) = env.get("BAKER_LLM_CAPTURE") {
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match item.to_ascii_lowercase().as_str() {
                    "all" => p = Self::all().max_bytes(p.max_bytes),
                    "none" => p = Self::none().max_bytes(p.max_bytes),
                    "system" => p = p.capture(ContentKind::SystemInstructions, true),
                    "tool_args" => p = p.capture(ContentKind::ToolArguments, true),
                    other => match ContentKind::ALL.iter().find(|k| k.as_str() == other) {
                        Some(k) => p = p.capture(*k, true),
                        None => {
                            tracing::warn!(target: baker_otel::INTERNAL_TARGET, category = other, "unknown BAKER_LLM_CAPTURE category ignored")
                        }
                    },
                }
            }
        }
        if let Some(n) = env
            .get("BAKER_LLM_CAPTURE_MAX_BYTES")
            .and_then(|v| v.trim().parse().ok())
        {
            p.max_bytes = n;
        }
        p
    }
}
