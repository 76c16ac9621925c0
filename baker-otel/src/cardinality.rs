//! Cardinality guards for values that become metric labels or span names.
//!
//! Anything a peer controls — a NATS subject on a wildcard subscription, an error string from a
//! provider — must not mint new time series without bound: once the SDK's per-instrument limit
//! (2000 attribute sets) is reached, every further measurement folds into
//! `otel.metric.overflow` and the real series stop updating. [`BoundedValues`] keeps the first
//! `max` distinct values and answers [`OTHER`] for the rest; [`error_type`] normalises an
//! `error.type` string to a short token.
//!
//! ```
//! use baker_otel::cardinality::{BoundedValues, OTHER};
//! let seen = BoundedValues::new(2);
//! assert_eq!(&*seen.get("a"), "a");
//! assert_eq!(&*seen.get("b"), "b");
//! assert_eq!(&*seen.get("c"), OTHER);
//! assert_eq!(&*seen.get("a"), "a");
//! ```

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

/// The value that stands for everything beyond a bound (the OpenTelemetry `_OTHER` convention).
pub const OTHER: &str = "_OTHER";

/// Longest `error.type` kept by [`error_type`].
pub const MAX_ERROR_TYPE_LEN: usize = 64;

/// Default number of distinct values kept by a [`BoundedValues`].
pub const DEFAULT_MAX_VALUES: usize = 100;

/// A bounded set of label values: the first `max` distinct values pass, the rest become
/// [`OTHER`]. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct BoundedValues {
    max: usize,
    seen: Arc<RwLock<HashSet<Arc<str>>>>,
}

impl Default for BoundedValues {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_VALUES)
    }
}

impl BoundedValues {
    /// A set keeping at most `max` distinct values.
    ///
    /// ```
    /// let v = baker_otel::cardinality::BoundedValues::new(10);
    /// assert_eq!(v.len(), 0);
    /// ```
    pub fn new(max: usize) -> Self {
        Self {
            max,
            seen: Arc::default(),
        }
    }

    /// `value` if it is (or now becomes) one of the kept values, else [`OTHER`] (which never takes
    /// a place).
    ///
    /// ```
    /// let v = baker_otel::cardinality::BoundedValues::new(0);
    /// assert_eq!(&*v.get("x"), "_OTHER");
    /// ```
    pub fn get(&self, value: &str) -> Arc<str> {
        if value == OTHER {
            return Arc::from(OTHER);
        }
        if let Ok(seen) = self.seen.read() {
            if let Some(v) = seen.get(value) {
                return v.clone();
            }
            if seen.len() >= self.max {
                return Arc::from(OTHER);
            }
        }
        let Ok(mut seen) = self.seen.write() else {
            return Arc::from(OTHER);
        };
        if let Some(v) = seen.get(value) {
            return v.clone();
        }
        if seen.len() >= self.max {
            return Arc::from(OTHER);
        }
        let v: Arc<str> = Arc::from(value);
        seen.insert(v.clone());
        v
    }

    /// The number of distinct values kept so far.
    ///
    /// ```
    /// let v = baker_otel::cardinality::BoundedValues::new(5);
    /// let _ = v.get("a");
    /// assert_eq!(v.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.seen.read().map_or(0, |s| s.len())
    }

    /// Whether no value was kept yet.
    ///
    /// ```
    /// assert!(baker_otel::cardinality::BoundedValues::new(5).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Normalises an `error.type` from a user or peer string: trimmed; at most
/// [`MAX_ERROR_TYPE_LEN`] bytes of `[A-Za-z0-9_.:-]` (a class name or code such as
/// `rate_limited`, `503`, `io::Error`); anything else — free text, a message with spaces, an
/// empty string — is [`OTHER`]. Combine with a [`BoundedValues`] to bound the distinct values.
///
/// ```
/// use baker_otel::cardinality::error_type;
/// assert_eq!(error_type("rate_limited"), "rate_limited");
/// assert_eq!(error_type("connection refused at 10.0.0.1:443"), "_OTHER");
/// assert_eq!(error_type(""), "_OTHER");
/// ```
pub fn error_type(raw: &str) -> &str {
    let t = raw.trim();
    if t.is_empty()
        || t.len() > MAX_ERROR_TYPE_LEN
        || !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        OTHER
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_errors_make_a_bounded_set() {
        let v = BoundedValues::new(50);
        let mut out = HashSet::new();
        for i in 0..10_000 {
            out.insert(v.get(error_type(&format!("err_{i}"))).to_string());
            out.insert(
                v.get(error_type(&format!("failed with id {i}")))
                    .to_string(),
            );
        }
        assert_eq!(out.len(), 51, "50 kept + _OTHER");
        assert!(out.contains(OTHER));
    }
}
