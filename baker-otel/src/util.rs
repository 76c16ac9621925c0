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

/// `url` with its userinfo (`user:password@`) replaced by `[REDACTED]@`, the rest kept, for
/// `Debug` output and error messages. Works on any text, valid URL or not: the authority is what
/// follows the scheme's `://` (or the start) up to the first `/`, `?` or `#`, and its userinfo
/// ends at its last `@`.
pub(crate) fn redact_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    let start = match url.find("://") {
        Some(i)
            if i > 0
                && url[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            i + 3
        }
        _ => 0,
    };
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => std::borrow::Cow::Owned(format!(
            "{}{}@{}",
            &url[..start],
            crate::config::REDACTED,
            &rest[at + 1..]
        )),
        None => std::borrow::Cow::Borrowed(url),
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
    fn userinfo_is_redacted_and_nothing_else() {
        for (url, shown) in [
            (
                "http://u:p@h:4318/v1/traces",
                "http://[REDACTED]@h:4318/v1/traces",
            ),
            ("https://:pw@h", "https://[REDACTED]@h"),
            ("http://a@b@h/x@y", "http://[REDACTED]@h/x@y"),
            ("u:p@h:4317", "[REDACTED]@h:4317"),
            ("u:p@h/p?next=http://x", "[REDACTED]@h/p?next=http://x"),
            ("http://h:4318/a@b", "http://h:4318/a@b"),
            ("http://h:4318", "http://h:4318"),
            ("", ""),
            ("é://@", "é://@"),
        ] {
            assert_eq!(redact_userinfo(url), shown, "{url}");
        }
    }

    #[test]
    fn rate_limiter_lets_first_through_then_blocks() {
        let rl = RateLimiter::new(Duration::from_secs(3600));
        assert!(rl.allow());
        assert!(!rl.allow());
    }
}
