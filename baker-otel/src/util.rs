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

/// Cuts the over-long string values of a span's attributes and of its events' attributes (as
/// the export queue does, see [`truncate_attributes`]).
#[inline]
pub(crate) fn truncate_span(span: &mut opentelemetry_sdk::trace::SpanData, max: usize) {
    truncate_attributes(&mut span.attributes, max);
    for e in span.events.events.iter_mut() {
        truncate_attributes(&mut e.attributes, max);
    }
}

/// Runs `ours` on this thread and, when there is one, `theirs` on a thread of its own, both
/// started at once and bounded together by `timeout` from now: a shutdown of the service's own
/// processors that hangs costs neither baker-otel's export queue its time nor the caller its
/// deadline (it is then reported as a timeout and left to finish on its own). Both results
/// count; `theirs` runs inline, after `ours`, if no thread can be started.
pub(crate) fn alongside<F>(
    timeout: Duration,
    ours: impl FnOnce() -> opentelemetry_sdk::error::OTelSdkResult,
    theirs: Option<F>,
) -> opentelemetry_sdk::error::OTelSdkResult
where
    F: FnOnce() -> opentelemetry_sdk::error::OTelSdkResult + Send + 'static,
{
    use opentelemetry_sdk::error::OTelSdkError;
    use std::sync::{mpsc, Arc, Mutex};
    let Some(theirs) = theirs else {
        return ours();
    };
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel();
    // Through a shared slot, so that it is still here to run inline if the thread cannot start.
    let slot = Arc::new(Mutex::new(Some(theirs)));
    let on_thread = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("baker-otel-processors".into())
        .spawn(move || {
            let task = on_thread.lock().ok().and_then(|mut t| t.take());
            if let Some(task) = task {
                let _ = tx.send(task());
            }
        });
    let ours = ours();
    let theirs = if spawned.is_ok() {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(OTelSdkError::InternalFailure(
                "a span or log processor panicked while shutting down".into(),
            )),
        }
    } else {
        let task = slot.lock().ok().and_then(|mut t| t.take());
        task.map_or(Ok(()), |task| task())
    };
    ours.and(theirs)
}

/// Shuts `items` down one after the other, each with what is left of `timeout`; every one is
/// asked, and the first error is returned.
pub(crate) fn shutdown_in_order<T>(
    items: &[T],
    timeout: Duration,
    shutdown: impl Fn(&T, Duration) -> opentelemetry_sdk::error::OTelSdkResult,
) -> opentelemetry_sdk::error::OTelSdkResult {
    let deadline = Instant::now() + timeout;
    first_error(
        items
            .iter()
            .map(|item| shutdown(item, deadline.saturating_duration_since(Instant::now()))),
    )
}

/// Runs every one of `results` (they are lazy) and returns the first error.
pub(crate) fn first_error(
    results: impl IntoIterator<Item = opentelemetry_sdk::error::OTelSdkResult>,
) -> opentelemetry_sdk::error::OTelSdkResult {
    let mut first = Ok(());
    for r in results {
        first = first.and(r);
    }
    first
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
