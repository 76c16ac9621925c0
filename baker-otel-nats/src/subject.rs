//! Low-cardinality destination names: reply inboxes collapse to a template.

/// Template used for every reply-inbox subject (`_INBOX.<random>...`).
pub const INBOX_TEMPLATE: &str = "_INBOX";

/// The destination name for spans and metric labels: `_INBOX.*` subjects (request/reply inboxes)
/// become [`INBOX_TEMPLATE`], anything else is returned as is.
///
/// ```
/// use baker_otel_nats::destination_name;
/// assert_eq!(destination_name("_INBOX.kJ3xS9.42"), "_INBOX");
/// assert_eq!(destination_name("jobs.summarise"), "jobs.summarise");
/// ```
pub fn destination_name(subject: &str) -> &str {
    if is_inbox(subject) {
        INBOX_TEMPLATE
    } else {
        subject
    }
}

/// Whether `subject` is a reply inbox.
///
/// ```
/// assert!(baker_otel_nats::subject::is_inbox("_INBOX.abc"));
/// ```
pub fn is_inbox(subject: &str) -> bool {
    subject == INBOX_TEMPLATE || subject.starts_with("_INBOX.")
}

/// Replacement for a subject token that looks like an id (UUID, hex, number, random token).
pub const ID_TOKEN: &str = "{id}";

/// Default bound on distinct destination names per [`NatsTelemetry`](crate::NatsTelemetry).
pub const DEFAULT_MAX_DESTINATIONS: usize = 200;

/// A subject pattern could not be parsed.
///
/// ```
/// let err = baker_otel_nats::SubjectTemplates::new().pattern("jobs..agent").unwrap_err();
/// assert!(err.to_string().contains("jobs..agent"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid subject pattern {pattern:?}: {reason}")]
#[non_exhaustive]
pub struct SubjectPatternError {
    /// The pattern.
    pub pattern: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

#[derive(Debug, Clone)]
enum Tok {
    Literal(String),
    One,
    Tail,
}

#[derive(Debug, Clone)]
struct Pattern {
    text: std::sync::Arc<str>,
    tokens: Vec<Tok>,
}

impl Pattern {
    fn matches(&self, subject: &str) -> bool {
        let mut parts = subject.split('.');
        for (i, t) in self.tokens.iter().enumerate() {
            match t {
                Tok::Tail => {
                    debug_assert_eq!(i, self.tokens.len() - 1);
                    return parts.next().is_some();
                }
                Tok::One => {
                    if parts.next().is_none_or(str::is_empty) {
                        return false;
                    }
                }
                Tok::Literal(l) => {
                    if parts.next() != Some(l.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

/// How subjects become low-cardinality destination names for span names and metric labels.
///
/// In order: reply inboxes (`_INBOX.…`) become `_INBOX`; the first matching user **pattern**
/// gives its own text (`jobs.{tenant}.agent`: `{name}` or `*` matches one token, a final `>`
/// the rest, like NATS wildcards); otherwise tokens that look like ids — all digits, UUIDs,
/// hex strings of 8 or more with a digit, random tokens of 20+ letters and digits — become
/// `{id}`;
/// finally only the first `max_destinations` distinct names are kept, later ones become
/// `_OTHER`. A publisher on a wildcard subscription therefore cannot mint unbounded series.
///
/// ```
/// use baker_otel_nats::SubjectTemplates;
/// let t = SubjectTemplates::new().pattern("jobs.{tenant}.agent").unwrap();
/// assert_eq!(&*t.apply("jobs.acme.agent"), "jobs.{tenant}.agent");
/// assert_eq!(&*t.apply("orders.7f3c9a1e-0b1d-4c5e-9f00-1234567890ab.created"), "orders.{id}.created");
/// assert_eq!(&*t.apply("users.12345.profile"), "users.{id}.profile");
/// assert_eq!(&*t.apply("_INBOX.abc.1"), "_INBOX");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SubjectTemplates {
    patterns: Vec<Pattern>,
    collapse_ids: bool,
    bounded: baker_otel::cardinality::BoundedValues,
}

impl Default for SubjectTemplates {
    fn default() -> Self {
        Self::new()
    }
}

impl SubjectTemplates {
    /// No patterns, id collapse on, at most [`DEFAULT_MAX_DESTINATIONS`] distinct names.
    ///
    /// ```
    /// let t = baker_otel_nats::SubjectTemplates::new();
    /// assert_eq!(&*t.apply("jobs.summarise"), "jobs.summarise");
    /// ```
    pub fn new() -> Self {
        Self {
            patterns: Vec::new(),
            collapse_ids: true,
            bounded: baker_otel::cardinality::BoundedValues::new(DEFAULT_MAX_DESTINATIONS),
        }
    }

    /// Adds a pattern (tried in the order added).
    ///
    /// ```
    /// let t = baker_otel_nats::SubjectTemplates::new().pattern("events.{kind}.>").unwrap();
    /// assert_eq!(&*t.apply("events.click.eu.page9"), "events.{kind}.>");
    /// ```
    pub fn pattern(mut self, pattern: &str) -> Result<Self, SubjectPatternError> {
        let err = |reason| SubjectPatternError {
            pattern: pattern.to_owned(),
            reason,
        };
        if pattern.is_empty() {
            return Err(err("empty pattern"));
        }
        let raw: Vec<&str> = pattern.split('.').collect();
        let mut tokens = Vec::with_capacity(raw.len());
        for (i, t) in raw.iter().enumerate() {
            let tok = if t.is_empty() {
                return Err(err("empty token"));
            } else if *t == ">" {
                if i + 1 != raw.len() {
                    return Err(err("`>` must be the last token"));
                }
                Tok::Tail
            } else if *t == "*" || (t.starts_with('{') && t.ends_with('}') && t.len() > 2) {
                Tok::One
            } else if t.contains(['{', '}', '*', '>', ' ']) {
                return Err(err("a token is a literal, `*`, `{name}` or a final `>`"));
            } else {
                Tok::Literal((*t).to_owned())
            };
            tokens.push(tok);
        }
        self.patterns.push(Pattern {
            text: pattern.into(),
            tokens,
        });
        Ok(self)
    }

    /// Turns the automatic id collapse on or off (default on).
    ///
    /// ```
    /// let t = baker_otel_nats::SubjectTemplates::new().collapse_ids(false);
    /// assert_eq!(&*t.apply("users.42"), "users.42");
    /// ```
    pub fn collapse_ids(mut self, on: bool) -> Self {
        self.collapse_ids = on;
        self
    }

    /// Bound on distinct destination names (default [`DEFAULT_MAX_DESTINATIONS`]).
    ///
    /// ```
    /// let t = baker_otel_nats::SubjectTemplates::new().max_destinations(1);
    /// assert_eq!(&*t.apply("a"), "a");
    /// assert_eq!(&*t.apply("b"), "_OTHER");
    /// ```
    pub fn max_destinations(mut self, n: usize) -> Self {
        self.bounded = baker_otel::cardinality::BoundedValues::new(n);
        self
    }

    /// The destination name of `subject`.
    ///
    /// ```
    /// let t = baker_otel_nats::SubjectTemplates::new();
    /// assert_eq!(&*t.apply("cache.0xdeadbeef01"), "cache.{id}");
    /// ```
    pub fn apply(&self, subject: &str) -> std::sync::Arc<str> {
        if is_inbox(subject) {
            return std::sync::Arc::from(INBOX_TEMPLATE);
        }
        if let Some(p) = self.patterns.iter().find(|p| p.matches(subject)) {
            return self.bounded.get(&p.text);
        }
        if self.collapse_ids && subject.split('.').any(looks_like_id) {
            let collapsed: Vec<&str> = subject
                .split('.')
                .map(|t| if looks_like_id(t) { ID_TOKEN } else { t })
                .collect();
            return self.bounded.get(&collapsed.join("."));
        }
        self.bounded.get(subject)
    }
}

/// Whether a subject token looks like an identifier rather than a name.
fn looks_like_id(t: &str) -> bool {
    if t.is_empty() {
        return false;
    }
    let b = t.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    let is_uuid = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if is_uuid {
        return true;
    }
    let hex = t.strip_prefix("0x").unwrap_or(t);
    if hex.len() >= 8
        && hex.bytes().all(|c| c.is_ascii_hexdigit())
        && hex.bytes().any(|c| c.is_ascii_digit())
    {
        return true;
    }
    // Random tokens (NUIDs, base62 ids): 20+ letters and digits, mixed.
    b.len() >= 20
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_subjects_make_a_bounded_number_of_names() {
        let t = SubjectTemplates::new()
            .pattern("jobs.{tenant}.agent")
            .unwrap();
        let mut names = std::collections::HashSet::new();
        for i in 0..10_000 {
            names.insert(t.apply(&format!("jobs.tenant{i}.agent")).to_string());
            names.insert(t.apply(&format!("orders.{i}.created")).to_string());
            names.insert(t.apply(&format!("sess.{:032x}", i * 7919)).to_string());
            names.insert(t.apply(&format!("free.word{i}x")).to_string());
        }
        assert!(names.contains("jobs.{tenant}.agent"));
        assert!(names.contains("orders.{id}.created"));
        assert!(names.contains("sess.{id}"));
        assert!(names.contains("_OTHER"));
        assert!(
            names.len() <= DEFAULT_MAX_DESTINATIONS + 1,
            "{}",
            names.len()
        );
    }

    #[test]
    fn patterns() {
        let t = SubjectTemplates::new()
            .pattern("a.*.c")
            .unwrap()
            .pattern("x.>")
            .unwrap();
        assert_eq!(&*t.apply("a.b.c"), "a.*.c");
        assert_eq!(&*t.apply("a.b.c.d"), "a.b.c.d");
        assert_eq!(&*t.apply("x.y.z"), "x.>");
        assert_eq!(&*t.apply("x"), "x");
        assert!(SubjectTemplates::new().pattern("a.>.b").is_err());
        assert!(SubjectTemplates::new().pattern("").is_err());
        assert!(!looks_like_id("summarise"));
        assert!(!looks_like_id("agent"));
        assert!(looks_like_id("kJ3xS9aaaaaaaaaaaaaaaa"));
    }
}
