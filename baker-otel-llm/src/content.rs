//! Content capture policy: what message content may be recorded, redaction and truncation.
//!
//! Capture is **off** by default. Turn it on globally with
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`, or per category with
//! `BAKER_LLM_CAPTURE=input,output,system_instructions,tool_arguments,tool_results` (or `all`,
//! `none`), or with [`CapturePolicy`] on the builder (builder wins over env).
//! Captured values have secrets replaced by `[REDACTED]` and are cut to `max_bytes`
//! (`BAKER_LLM_CAPTURE_MAX_BYTES`, default 8192) with a `…[truncated N bytes]` marker.
//! Redaction only sees what can be shown (`max_bytes` plus a margin), so its cost is bounded
//! whatever the size of the input; see [`CapturePolicy::prepare`].
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
/// `twilio-api-key`, `grafana-service-account-token`, `jwt`, `generic-api-key`),
/// trufflehog's detectors (`uri` for credentials in URLs, `azure_storage` for `AccountKey=`) and
/// the published key formats of AI providers (`ai-provider-key`). Key/value forms cover
/// `key=value`, `key: value` (YAML), `"key": "value"` (JSON text) and `?key=value` (URL
/// queries). Card numbers are redacted when they pass the Luhn check and are not shaped like an
/// epoch timestamp (see [`looks_like_card_number`]).
///
/// Every rule runs in linear time (no unbounded lazy body, ASCII word boundaries `(?-u:\b)` so
/// that non-ASCII text keeps the regex engine's DFA), and [`CapturePolicy`] only ever redacts a
/// bounded window of the input.
pub const DEFAULT_SECRET_PATTERNS: &[(&str, &str)] = &[
    (
        // The body is base64, whitespace, `\` (JSON-escaped newlines) and `Name: value` header
        // lines: it cannot run over another `-----` marker, so each search stops at the next
        // one (linear time on any input; an unbounded lazy body to a missing END marker made
        // `replace_all` quadratic on repeated BEGIN lines). Without an END marker (a key cut
        // short) the body runs to where the base64 stops.
        "private-key",
        r"(?P<s>-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s\\]|[A-Za-z][A-Za-z0-9-]{0,40}:[^\n\\]{0,200})*(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)?)",
    ),
    (
        "anthropic-api-key",
        r"(?P<s>(?-u:\b)sk-ant-[A-Za-z0-9_\-]{8,})",
    ),
    (
        "openai-api-key",
        r"(?P<s>(?-u:\b)sk-(?:proj-|svcacct-|admin-|live-|test-)?[A-Za-z0-9_\-]{16,})",
    ),
    (
        // Groq `gsk_` (52), xAI `xai-` (80), Replicate `r8_` (37), Perplexity `pplx-` (48),
        // LangSmith `lsv2_pt_`/`lsv2_sk_` (32 hex, `_`, 10 hex), Pinecone `pcsk_` (~70),
        // Tavily `tvly-` / `tvly-dev-` (32). 20 characters are enough to match, so a key cut
        // short still goes.
        "ai-provider-key",
        r"(?P<s>(?-u:\b)(?:gsk_[A-Za-z0-9]{20,}|xai-[A-Za-z0-9_]{20,}|r8_[A-Za-z0-9]{20,}|pplx-[A-Za-z0-9]{20,}|lsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}|pcsk_[A-Za-z0-9_]{20,}|tvly-[A-Za-z0-9_\-]{20,}))",
    ),
    (
        "stripe-key",
        r"(?P<s>(?-u:\b)(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}|(?-u:\b)whsec_[A-Za-z0-9]{20,})",
    ),
    (
        "aws-access-key-id",
        r"(?P<s>(?-u:\b)(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b))",
    ),
    (
        "aws-secret-access-key",
        r#"(?i:aws)[A-Za-z0-9_.\-]{0,20}(?i:secret)[A-Za-z0-9_.\-]{0,20}["']?\s*(?::|=|:=|=>)\s*["']?(?P<s>[A-Za-z0-9/+=]{40})"#,
    ),
    (
        "github-token",
        r"(?P<s>(?-u:\b)gh[pousr]_[A-Za-z0-9]{20,}|(?-u:\b)github_pat_[A-Za-z0-9_]{20,})",
    ),
    (
        "gitlab-token",
        r"(?P<s>(?-u:\b)gl(?:pat|dt|rt|cbt|ptt|ft|soat)-[A-Za-z0-9_\-]{20,})",
    ),
    (
        "slack-token",
        r"(?P<s>(?-u:\b)xox[abeoprs]-[A-Za-z0-9\-]{10,})",
    ),
    (
        "slack-webhook-url",
        r"(?P<s>(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,})",
    ),
    ("gcp-api-key", r"(?P<s>(?-u:\b)AIza[0-9A-Za-z_\-]{20,})"),
    ("huggingface-token", r"(?P<s>(?-u:\b)hf_[A-Za-z0-9]{30,})"),
    (
        "sendgrid-api-key",
        r"(?P<s>(?-u:\b)SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,})",
    ),
    ("npm-token", r"(?P<s>(?-u:\b)npm_[A-Za-z0-9]{36})"),
    (
        "pypi-token",
        r"(?P<s>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
    ),
    (
        "twilio-api-key",
        r"(?P<s>(?-u:\b)SK[0-9a-fA-F]{32}(?-u:\b))",
    ),
    (
        "grafana-token",
        r"(?P<s>(?-u:\b)glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
    ),
    (
        // Signed (three segments) and unsigned (`alg: none`, empty third segment) tokens, and a
        // header followed by a JSON payload alone (a token cut short).
        "jwt",
        r"(?P<s>(?-u:\b)eyJ[A-Za-z0-9_\-]{5,}\.(?:[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*|eyJ[A-Za-z0-9_\-]*))",
    ),
    (
        // The user may be empty (`redis://:password@host`, Redis AUTH) and the password may
        // hold `/` (generated passwords, base64). A port and a path with an `@` in it
        // (`http://host:8080/users/ann@example.com`) read as a password too: a `/` after
        // digits is as likely a password (`postgres://app:0000/a0Aa@db`), so this errs on
        // the side of redacting.
        "url-credentials",
        r#"://[^\s:/@"'<>]{0,64}:(?P<s>[^\s@"'<>]{1,128})@"#,
    ),
    (
        "url-query-secret",
        r#"[?&](?i:key|api[_\-]?key|apikey|token|access_token|refresh_token|id_token|client_secret|secret|password|sig|signature|x-amz-signature|x-goog-signature)=(?P<s>[^&\s"'#<>]+)"#,
    ),
    (
        // The value: a double-quoted one up to its closing quote (`\"` in JSON-escaped text),
        // a single-quoted one up to its closing quote, else everything up to the next
        // whitespace — `;`, `&`, `!`, `,`, `}` and quotes included, as generated passwords hold
        // them. 256 bytes at most; an unclosed quote runs to the end of the line.
        "sensitive-key-value",
        r#"(?i:(?-u:\b)[A-Za-z0-9_.\-]{0,40}?(?:passw(?:or)?d|passphrase|pwd|(?:(?-u:\b)|_)pass|secret|token|api[_\-.]?key|apikey|access[_\-.]?key|account[_\-.]?key|private[_\-.]?key|credentials?|authorization|session[_\-.]?id|connection[_\-.]?string|(?:(?-u:\b)|_)dsn)(?:[_\-.][A-Za-z0-9_.\-]{0,20})?)(?:\\?["'])?\s*(?::|=|:=|=>)\s*(?i:(?:basic|bearer|token|digest)\s+)?(?:\\?"(?P<s1>(?:[^"\\\r\n]|\\[^"\r\n]){1,256})|'(?P<s2>[^'\r\n]{1,256})|(?P<s>[^\s"'][^\s]{0,255}))"#,
    ),
    (
        "authorization-scheme",
        r"(?i:(?-u:\b)(?:bearer|basic|digest))\s+(?P<s>[A-Za-z0-9_.=~+/][A-Za-z0-9_\-.=~+/]{7,})",
    ),
    (
        "card-number",
        r"(?P<card>(?-u:\b)[0-9](?:[ \-]?[0-9]){12,18}(?-u:\b))",
    ),
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

/// Whether a digit run (spaces and dashes ignored) is treated as a card number: it passes the
/// [Luhn check](luhn_valid) and is not shaped like an epoch timestamp — 13, 16 or 19 digits
/// (milliseconds, microseconds, nanoseconds) starting with `1`, written without separators.
/// About one timestamp in ten passes the Luhn check; no card network issues numbers of those
/// lengths starting with `1` (UATP's 15-digit numbers still count).
///
/// ```
/// use baker_otel_llm::content::looks_like_card_number;
/// assert!(looks_like_card_number("4111 1111 1111 1111"));
/// assert!(!looks_like_card_number("1700000015838")); // a Luhn-valid millisecond timestamp
/// ```
pub fn looks_like_card_number(number: &str) -> bool {
    let timestamp = number.starts_with('1')
        && number.bytes().all(|b| b.is_ascii_digit())
        && matches!(number.len(), 13 | 16 | 19);
    !timestamp && luhn_valid(number)
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
    /// The patterns failed to compile: everything is redacted, and a [`CapturePolicy`] holding
    /// this redactor captures nothing (fail closed).
    failed: bool,
}

#[derive(Debug)]
struct Rule {
    re: Regex,
    /// Indices of the groups redacted, `s` then `s1`, `s2`, … (the first that took part in the
    /// match is redacted); empty: the whole match.
    groups: Vec<usize>,
    /// Card numbers: redacted only when [`looks_like_card_number`].
    card: bool,
}

/// Marker that replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Bytes past the shown `max_bytes` that redaction also sees (see [`CapturePolicy::prepare`]):
/// a secret that straddles the cut is then seen whole when shorter than this, and by enough of
/// it for its rule to match when longer.
const WINDOW_MARGIN: usize = 1024;

/// Largest nesting of JSON-in-JSON strings parsed for redaction.
const MAX_JSON_DEPTH: usize = 64;

impl Default for Redactor {
    /// The [`DEFAULT_SECRET_PATTERNS`], compiled once per process. Should they ever fail to
    /// compile (say, a regex size limit changed on an upgrade), the redactor
    /// [fails closed](Self::failed) and an error is logged.
    fn default() -> Self {
        static DEFAULT: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
        DEFAULT
            .get_or_init(|| Self::compile_or_fail_closed(DEFAULT_SECRET_PATTERNS))
            .clone()
    }
}

/// How much of a JSON value's string content may still be redacted (see
/// [`CapturePolicy::prepare`]).
struct Budget {
    /// Bytes that may still be handed to [`Redactor::redact`].
    left: usize,
    /// Bytes of string content dropped because the budget ran out.
    dropped: usize,
    /// The cut [`CUT`] marks has been placed.
    cut: bool,
}

impl Budget {
    fn unbounded() -> Self {
        Self {
            left: usize::MAX,
            dropped: 0,
            cut: false,
        }
    }
}

/// Stands for the first string content that the budget cut, in a value being prepared; the
/// serialised text is cut where it appears. Private-use characters, which JSON serialisation
/// keeps as they are at any nesting depth (JSON held in a string included).
const CUT: &str = "\u{E000}bkr-cut\u{E000}";

/// The prefix of `text` that redaction sees when at most `shown` bytes of it can be shown and
/// at most `limit` bytes may be redacted: all of it when short enough, else cut at the last
/// ASCII whitespace in `shown..limit` (so that no token is cut), or at `limit`.
fn window(text: &str, shown: usize, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let from = shown.min(end);
    if let Some(i) = text.as_bytes()[from..end]
        .iter()
        .rposition(u8::is_ascii_whitespace)
    {
        end = from + i;
    }
    &text[..end]
}

impl Redactor {
    fn compile(patterns: Vec<String>) -> Result<Self, regex::Error> {
        let rules = patterns
            .iter()
            .map(|p| {
                let card = p.contains("(?P<card>");
                let body = p.replace("(?P<card>", "(?P<s>");
                let re = Regex::new(&body)?;
                let mut groups: Vec<(usize, usize)> = re
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, name)| {
                        let rank = match name?.strip_prefix('s')? {
                            "" => 0,
                            n => n.parse::<usize>().ok()?.checked_add(1)?,
                        };
                        Some((rank, i))
                    })
                    .collect();
                groups.sort_unstable();
                Ok(Rule {
                    groups: groups.into_iter().map(|(_, i)| i).collect(),
                    re,
                    card,
                })
            })
            .collect::<Result<Vec<_>, regex::Error>>()?;
        Ok(Self {
            rules: Arc::new(rules),
            patterns: Arc::new(patterns),
            failed: false,
        })
    }

    /// `patterns` compiled, or a redactor that [failed closed](Self::failed).
    fn compile_or_fail_closed(patterns: &[(&str, &str)]) -> Self {
        let list = patterns.iter().map(|(_, p)| (*p).to_owned()).collect();
        Self::compile(list).unwrap_or_else(|e| {
            tracing::error!(target: baker_otel::INTERNAL_TARGET, error = %e, "baker-otel-llm: the secret patterns do not compile; content capture is off");
            Self {
                rules: Arc::default(),
                patterns: Arc::default(),
                failed: true,
            }
        })
    }

    /// Whether the patterns failed to compile. Such a redactor fails closed: [`redact`]
    /// replaces the whole text with [`REDACTED`], and a [`CapturePolicy`] holding it captures
    /// nothing ([`CapturePolicy::enabled`] is false for every kind).
    ///
    /// [`redact`]: Self::redact
    ///
    /// ```
    /// assert!(!baker_otel_llm::content::Redactor::default().failed());
    /// ```
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Adds a pattern (regex syntax of the `regex` crate), run after the others. The whole match
    /// is redacted, or only the named group `s` when the pattern has one (`token-(?P<s>\d+)`;
    /// with alternatives, `s`, `s1`, `s2`, …: the first that took part in the match). A redactor
    /// that [failed](Self::failed) stays failed.
    ///
    /// ```
    /// let r = baker_otel_llm::content::Redactor::default().with_pattern(r"emp-(?P<s>\d{4})").unwrap();
    /// assert_eq!(r.redact("badge emp-1234"), "badge emp-[REDACTED]");
    /// ```
    pub fn with_pattern(&self, pattern: &str) -> Result<Self, regex::Error> {
        if self.failed {
            return Ok(self.clone());
        }
        let mut patterns = (*self.patterns).clone();
        patterns.push(pattern.to_owned());
        Self::compile(patterns)
    }

    /// `text` with every secret replaced by [`REDACTED`]. Linear in the length of `text`; for
    /// untrusted input of any size, prefer [`CapturePolicy::prepare`], which only redacts what
    /// it may show.
    ///
    /// ```
    /// use baker_otel_llm::content::Redactor;
    /// let r = Redactor::default();
    /// assert_eq!(r.redact("DB_PASSWORD=hunter2 ok"), "DB_PASSWORD=[REDACTED] ok");
    /// assert_eq!(r.redact("DB_PASSWORD=Xk9;mP2&q! ok"), "DB_PASSWORD=[REDACTED] ok");
    /// assert_eq!(r.redact(r#"password: "correct horse""#), r#"password: "[REDACTED]""#);
    /// assert_eq!(r.redact("card 4111 1111 1111 1111."), "card [REDACTED].");
    /// assert_eq!(r.redact("order 1234567890123"), "order 1234567890123"); // not Luhn-valid
    /// ```
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        #[cfg(test)]
        tests::REDACTED_BYTES.with(|n| n.set(n.get() + text.len()));
        if self.failed {
            return Cow::Owned(REDACTED.to_owned());
        }
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
        let _ = self.redact_value(value, 0, &mut Budget::unbounded());
    }

    /// Redacts `value` in place, handing at most `budget.left` bytes of string content to
    /// [`redact`](Self::redact) (strings past it are cut or emptied); whether anything changed.
    fn redact_value(
        &self,
        value: &mut serde_json::Value,
        depth: usize,
        budget: &mut Budget,
    ) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => self.redact_string(s, depth, budget),
            Value::Array(items) => {
                // Every item, no short-circuit.
                let mut changed = false;
                for v in items {
                    changed |= self.redact_value(v, depth + 1, budget);
                }
                changed
            }
            Value::Object(map) => map.iter_mut().fold(false, |c, (k, v)| {
                if is_sensitive_key(k) && !v.is_null() && v.as_str() != Some(REDACTED) {
                    *v = Value::String(REDACTED.to_owned());
                    true
                } else {
                    self.redact_value(v, depth + 1, budget) || c
                }
            }),
            Value::Number(n) => {
                if looks_like_card_number(&n.to_string()) {
                    *value = Value::String(REDACTED.to_owned());
                    true
                } else {
                    false
                }
            }
            Value::Null | Value::Bool(_) => false,
        }
    }

    /// One string value of a JSON document; see [`redact_value`](Self::redact_value).
    fn redact_string(&self, s: &mut String, depth: usize, budget: &mut Budget) -> bool {
        if s.is_empty() {
            return false;
        }
        if budget.left == 0 {
            // Past the budget: never shown, so never redacted — emptied.
            budget.dropped += s.len();
            *s = if budget.cut {
                String::new()
            } else {
                CUT.to_owned()
            };
            budget.cut = true;
            return true;
        }
        if s.len() <= budget.left {
            if let Some(inner) = self.redact_embedded_json(s, depth, budget) {
                let changed = inner != *s;
                *s = inner;
                return changed;
            }
        }
        let w = window(s, budget.left.saturating_sub(WINDOW_MARGIN), budget.left);
        budget.left -= w.len();
        let cut_at = w.len();
        let redacted = self.redact(w);
        if cut_at == s.len() {
            return match redacted {
                Cow::Owned(r) => {
                    *s = r;
                    true
                }
                Cow::Borrowed(_) => false,
            };
        }
        // The budget ends in this string: keep the redacted window, then the cut; what
        // follows is past the cut, so nothing more is redacted.
        let mut out = redacted.into_owned();
        budget.left = 0;
        budget.dropped += s.len() - cut_at;
        if !budget.cut {
            out.push_str(CUT);
            budget.cut = true;
        }
        *s = out;
        true
    }

    /// A string holding a JSON object or array, redacted (serialised again only when something
    /// was redacted, so untouched JSON keeps its exact text).
    fn redact_embedded_json(&self, s: &str, depth: usize, budget: &mut Budget) -> Option<String> {
        let mut inner = parse_container(s, depth)?;
        if !self.redact_value(&mut inner, depth + 1, budget) {
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
        self.redact_embedded_json(text, 0, &mut Budget::unbounded())
            .unwrap_or_else(|| self.redact(text).into_owned())
    }
}

/// `s` parsed, when it holds a JSON object or array (and `depth` allows one more level).
fn parse_container(s: &str, depth: usize) -> Option<serde_json::Value> {
    let t = s.trim_start();
    if depth >= MAX_JSON_DEPTH || !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(t).ok()
}

/// The replacement of one match of `rule`.
fn redact_match(rule: &Rule, caps: &regex::Captures<'_>) -> String {
    let Some(whole) = caps.get(0) else {
        return String::new();
    };
    let m = if rule.groups.is_empty() {
        whole
    } else {
        match rule.groups.iter().find_map(|i| caps.get(*i)) {
            Some(m) => m,
            None => return whole.as_str().to_owned(),
        }
    };
    // Already redacted by an earlier rule, or not a card number after all.
    if m.as_str().starts_with("[REDACTED") || (rule.card && !looks_like_card_number(m.as_str())) {
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

/// `text` cut to `max` bytes like [`truncate`], when `dropped` bytes of the input it came from
/// were already left out before it (the marker is then always added and counts them too).
fn truncate_after(text: &str, max: usize, dropped: usize) -> String {
    if dropped == 0 {
        return truncate(text, max).into_owned();
    }
    let mut cut = max.min(text.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}…[truncated {} bytes]",
        &text[..cut],
        text.len() - cut + dropped
    )
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
    ///
    /// Always false when the redactor [failed](Redactor::failed) (fail closed).
    pub fn enabled(&self, kind: ContentKind) -> bool {
        self.enabled & kind.bit() != 0 && !self.redactor.failed()
    }

    /// The value to record for `kind`: `None` when not captured, else redacted (on the parsed
    /// JSON when `text` is a JSON object or array) and truncated.
    ///
    /// Redaction only sees what can be shown: `max_bytes` plus a margin of 1 KiB (cut at a
    /// whitespace where there is one, so that a secret across the cut is seen whole, or by
    /// enough of it for its rule to match). For JSON, string values are redacted in document
    /// order within the same byte budget; strings past it are emptied and the text is cut
    /// there. The cost is bounded whatever the size of `text`: linear in it for parsing JSON,
    /// and about `max_bytes` for redaction. The `…[truncated N bytes]` marker counts the bytes
    /// left out, of the input and of the redacted text.
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
        if let Some(value) = parse_container(text, 0) {
            return Some(self.finish_json(value, Some(text)));
        }
        let w = window(
            text,
            self.max_bytes,
            self.max_bytes.saturating_add(WINDOW_MARGIN),
        );
        let redacted = self.redactor.redact(w);
        Some(truncate_after(
            &redacted,
            self.max_bytes,
            text.len() - w.len(),
        ))
    }

    /// `value` redacted within the byte budget, serialised, cut and truncated; `original` is
    /// its text, kept as it is when nothing was redacted.
    fn finish_json(&self, mut value: serde_json::Value, original: Option<&str>) -> String {
        let mut budget = Budget {
            left: self.max_bytes.saturating_add(WINDOW_MARGIN),
            dropped: 0,
            cut: false,
        };
        let changed = self.redactor.redact_value(&mut value, 0, &mut budget);
        let text = match original {
            Some(t) if !changed => Cow::Borrowed(t),
            _ => Cow::Owned(serde_json::to_string(&value).unwrap_or_default()),
        };
        if !budget.cut {
            return truncate(&text, self.max_bytes).into_owned();
        }
        // Cut where the first string the budget did not cover begins (a marker there), or
        // where the first byte of it would have been.
        let end = text.find(CUT).unwrap_or(text.len());
        let shown = &text[..end];
        let after = text.len() - end - CUT.len().min(text.len() - end);
        truncate_after(shown, self.max_bytes, budget.dropped + after)
    }

    /// Like [`prepare`](Self::prepare) for a value that is already JSON (e.g. from
    /// [`LlmRequest::input_messages`](crate::LlmRequest::input_messages)): redacted on its
    /// string values within the same byte budget, serialised, truncated.
    ///
    /// ```
    /// use baker_otel_llm::content::{CapturePolicy, ContentKind};
    /// let v = serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": "my pwd=hunter2"}]}]);
    /// let out = CapturePolicy::all().prepare_json(ContentKind::Input, v).unwrap();
    /// assert!(out.contains("pwd=[REDACTED]") && !out.contains("hunter2"));
    /// assert!(CapturePolicy::none().prepare_json(ContentKind::Input, serde_json::json!([])).is_none());
    /// ```
    pub fn prepare_json(&self, kind: ContentKind, value: serde_json::Value) -> Option<String> {
        if !self.enabled(kind) {
            return None;
        }
        Some(self.finish_json(value, None))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Bytes handed to [`Redactor::redact`] on this thread (the work redaction does).
        pub(super) static REDACTED_BYTES: Cell<usize> = const { Cell::new(0) };
    }

    /// Bytes redacted while running `f`.
    fn redacted_bytes<R>(f: impl FnOnce() -> R) -> (usize, R) {
        REDACTED_BYTES.with(|n| n.set(0));
        let r = f();
        (REDACTED_BYTES.with(Cell::get), r)
    }

    fn big_inputs() -> Vec<String> {
        let pem = "-----BEGIN PRIVATE KEY-----".repeat(40_000);
        let non_ascii = "é password=x ".repeat(100_000);
        let one_word = "x".repeat(1 << 20);
        let many_strings: Vec<String> = (0..20_000).map(|i| format!("pwd=v{i} note")).collect();
        vec![
            serde_json::json!([{"content": pem}]).to_string(),
            serde_json::json!({"content": non_ascii, "more": [non_ascii]}).to_string(),
            serde_json::json!(many_strings).to_string(),
            serde_json::json!({"args": serde_json::json!({"q": non_ascii}).to_string()})
                .to_string(),
            pem,
            non_ascii,
            one_word,
        ]
    }

    /// Finding 2: redaction only ever sees a window of `max_bytes` plus a margin, whatever the
    /// size of the input (text or JSON), so its cost is bounded by design.
    #[test]
    fn prepare_redacts_only_a_bounded_window() {
        for max in [0, 100, 1000, CapturePolicy::DEFAULT_MAX_BYTES] {
            let p = CapturePolicy::all().max_bytes(max);
            for input in big_inputs() {
                let (work, out) = redacted_bytes(|| p.prepare(ContentKind::Input, &input).unwrap());
                assert!(
                    work <= max + WINDOW_MARGIN,
                    "max {max}: redacted {work} bytes"
                );
                assert!(out.contains("…[truncated"), "{out:.100}");
                assert!(out.len() <= max + 40, "max {max}: {}", out.len());
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&input) {
                    let (work, out) =
                        redacted_bytes(|| p.prepare_json(ContentKind::Input, v).unwrap());
                    assert!(
                        work <= max + WINDOW_MARGIN,
                        "max {max}: redacted {work} bytes"
                    );
                    assert!(out.contains("…[truncated"), "{out:.100}");
                }
            }
        }
    }

    /// A secret that straddles the cut is redacted, never emitted in part.
    #[test]
    fn a_secret_across_the_cut_is_never_emitted_in_part() {
        let secret = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678";
        let p = CapturePolicy::all().max_bytes(100);
        for at in 60..110 {
            let text = format!("{} {secret} {}", "a".repeat(at), "b".repeat(5000));
            let out = p.prepare(ContentKind::Input, &text).unwrap();
            assert!(!out.contains("AbCdEfGh"), "{out}");
            let json = serde_json::json!([{"content": text}]);
            let out = p.prepare(ContentKind::Input, &json.to_string()).unwrap();
            assert!(!out.contains("AbCdEfGh"), "{out}");
            let out = p.prepare_json(ContentKind::Input, json).unwrap();
            assert!(!out.contains("AbCdEfGh"), "{out}");
        }
        // A PEM key larger than the window: its start is enough.
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n".repeat(100);
        let pem = format!("key: -----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n");
        let out = p.prepare(ContentKind::Input, &pem).unwrap();
        assert!(!out.contains("MIIEvQ"), "{out}");
        // A redacted prefix that shrinks does not pull the cut part of the window into view.
        let text = format!(
            "{pem} {}",
            "password: \"correct horse battery staple\" ".repeat(200)
        );
        for max in [50, 100, 500, 3000, 6000, 7000] {
            let out = CapturePolicy::all()
                .max_bytes(max)
                .prepare(ContentKind::Input, &text)
                .unwrap();
            assert!(
                !out.contains("horse") && !out.contains("MIIEvQ"),
                "{max}: {out}"
            );
        }
    }

    /// JSON past the budget: the text stops where the content the budget did not cover
    /// starts, with the marker; the cut sentinel never shows.
    #[test]
    fn json_past_the_budget_is_cut_where_its_content_stops() {
        let p = CapturePolicy::all().max_bytes(200);
        let args = serde_json::json!({"q": "word ".repeat(2000), "pwd": "x"}).to_string();
        let v = serde_json::json!([
            {"role": "assistant", "arguments": args},
            {"role": "user", "content": "later"},
        ]);
        let small = serde_json::json!([{"content": "a ".repeat(300)}, {"content": "later"}]);
        for out in [
            p.prepare(ContentKind::Input, &v.to_string()).unwrap(),
            p.prepare_json(ContentKind::Input, v.clone()).unwrap(),
            CapturePolicy::all()
                .max_bytes(10)
                .prepare_json(ContentKind::Input, small)
                .unwrap(),
        ] {
            assert!(
                !out.contains("bkr-cut") && !out.contains('\u{E000}'),
                "{out}"
            );
            assert!(
                out.contains("…[truncated") && !out.contains("later"),
                "{out}"
            );
            assert!(out.len() <= 240, "{}", out.len());
        }
        // Within the budget nothing changes: the text as it was, or cut like before.
        let v = serde_json::json!({"q": "tea", "n": 3}).to_string();
        assert_eq!(p.prepare(ContentKind::Input, &v).unwrap(), v);
    }

    /// A `/` may be part of a URL password, after digits too; a port and a path with an `@`
    /// are then redacted as well (erring on the side of redacting).
    #[test]
    fn url_passwords_with_a_slash() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("postgres://app:ab/c+d==@db"),
            "postgres://app:[REDACTED]@db"
        );
        assert_eq!(
            r.redact("redis://:hunter2@redis:6379"),
            "redis://:[REDACTED]@redis:6379"
        );
        assert_eq!(r.redact("redis://:/ab+cd@r"), "redis://:[REDACTED]@r");
        assert_eq!(r.redact("pg://app:0000/a0Aa@db"), "pg://app:[REDACTED]@db");
        let url = "GET http://localhost:8080/users/ann@example.com ok";
        assert_eq!(
            r.redact(url),
            "GET http://localhost:[REDACTED]@example.com ok"
        );
        let url = "GET http://localhost:8080/users/ann ok";
        assert_eq!(r.redact(url), url);
    }

    /// Finding 4: if the default patterns ever fail to compile, capture turns off instead of
    /// recording unredacted content.
    #[test]
    fn a_redactor_that_failed_to_compile_turns_capture_off() {
        let broken = Redactor::compile_or_fail_closed(&[("ok", r"a+"), ("broken", r"(unclosed")]);
        assert!(broken.failed());
        let p = CapturePolicy::all().redactor(broken);
        assert!(!p.enabled(ContentKind::Input));
        assert_eq!(p.prepare(ContentKind::Input, "password=hunter2"), None);
        assert_eq!(
            p.prepare_json(ContentKind::Input, serde_json::json!({"pwd": "hunter2"})),
            None
        );
        assert_eq!(
            p.error_description(ContentKind::Output, "pwd=hunter2"),
            None
        );
        assert!(!Redactor::default().failed(), "the defaults compile");
        assert!(CapturePolicy::all().enabled(ContentKind::Input));
    }
}
