//! Small helpers shared by the modules.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Truncates `s` to at most `max` bytes on a char boundary.
pub(crate) fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Marker appended to a value cut by the attribute length limit.
pub(crate) const TRUNCATED: &str = "…[truncated]";

/// `s` cut to at most `max` bytes (on a char boundary), ending with [`TRUNCATED`].
pub(crate) fn truncated(s: &str, max: usize) -> String {
    let cut = crate::util::truncate_str(s, max.saturating_sub(TRUNCATED.len()));
    format!("{cut}{TRUNCATED}")
}

/// Cuts string attribute values (and strings in string arrays) longer than `max` bytes (on a
/// char boundary) and marks them.
pub(crate) fn truncate_attributes(attrs: &mut [opentelemetry::KeyValue], max: usize) {
    use opentelemetry::{Array, StringValue, Value};
    for kv in attrs {
        match &kv.value {
            Value::String(s) if s.as_str().len() > max => {
                kv.value = Value::String(truncated(s.as_str(), max).into());
            }
            Value::Array(Array::String(list)) if list.iter().any(|s| s.as_str().len() > max) => {
                let cut: Vec<StringValue> = list
                    .iter()
                    .map(|s| {
                        if s.as_str().len() > max {
                            truncated(s.as_str(), max).into()
                        } else {
                            s.clone()
                        }
                    })
                    .collect();
                kv.value = Value::Array(Array::String(cut));
            }
            _ => {}
        }
    }
}

/// Lets one event through per `period`, lock-free. Used for internal warnings that must not
/// flood the logs (collector down, queue full).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    period_ms: u64,
    start: Instant,
    next_ms: AtomicU64,
}

impl RateLimiter {
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            period_ms: period.as_millis() as u64,
            start: Instant::now(),
            next_ms: AtomicU64::new(0),
        }
    }

    /// Returns true when the caller may emit now.
    pub(crate) fn allow(&self) -> bool {
        let now = self.start.elapsed().as_millis() as u64;
        let next = self.next_ms.load(Ordering::Relaxed);
        now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now + self.period_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate_str("héllo", 2), "h");
        assert_eq!(truncate_str("abc", 10), "abc");
        assert_eq!(truncate_str("", 0), "");
    }

    #[test]
    fn rate_limiter_lets_first_through_then_blocks() {
        let rl = RateLimiter::new(Duration::from_secs(3600));
        assert!(rl.allow());
        assert!(!rl.allow());
    }
}
