//! The redactor: compiles the rule table and replaces secrets in text and in parsed JSON.

use super::card::looks_like_card_number;
use super::patterns::{is_sensitive_key, DEFAULT_SECRET_PATTERNS};
use super::window::{window, Budget, CUT, WINDOW_MARGIN};
use regex::Regex;
use std::borrow::Cow;
use std::sync::Arc;

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
    ///
    /// [`CapturePolicy`]: super::CapturePolicy
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
    pub(super) fn compile_or_fail_closed(patterns: &[(&str, &str)]) -> Self {
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
    /// [`CapturePolicy`]: super::CapturePolicy
    /// [`CapturePolicy::enabled`]: super::CapturePolicy::enabled
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
    /// [`CapturePolicy::prepare`]: super::CapturePolicy::prepare
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
    pub(super) fn redact_value(
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
pub(super) fn parse_container(s: &str, depth: usize) -> Option<serde_json::Value> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Bytes handed to [`Redactor::redact`] on this thread (the work redaction does).
        pub(in crate::content) static REDACTED_BYTES: Cell<usize> = const { Cell::new(0) };
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
}
