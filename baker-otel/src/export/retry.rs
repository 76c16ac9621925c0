//! The retry schedule both OTLP transports share: exponential backoff from 100 ms to 5 s, at most
//! four retries, a server's requested delay (gRPC `RetryInfo`, HTTP `Retry-After`) honoured up to
//! 30 s. The batch queue's export timeout bounds an export with all its retries.

use std::time::Duration;

/// Retries after the first attempt.
pub(crate) const MAX_RETRIES: u32 = 4;
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The longest server-requested delay honoured; longer ones are cut to this.
pub(crate) const MAX_THROTTLE: Duration = Duration::from_secs(30);

/// The delay before retry number `attempt + 1` of a retryable failure, `throttle` being the
/// delay the server asked for; `None` once the retries are used up.
pub(crate) fn delay(attempt: u32, throttle: Option<Duration>) -> Option<Duration> {
    if attempt >= MAX_RETRIES {
        return None;
    }
    let backoff = INITIAL_BACKOFF
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_BACKOFF);
    Some(throttle.map_or(backoff, |t| t.min(MAX_THROTTLE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap_and_a_server_delay_wins_within_bounds() {
        assert_eq!(delay(0, None), Some(INITIAL_BACKOFF));
        assert_eq!(delay(2, None), Some(INITIAL_BACKOFF * 4));
        assert_eq!(delay(3, None), Some(INITIAL_BACKOFF * 8));
        assert_eq!(delay(MAX_RETRIES, None), None);
        assert_eq!(
            delay(0, Some(Duration::from_millis(700))),
            Some(Duration::from_millis(700))
        );
        assert_eq!(
            delay(1, Some(Duration::from_secs(3600))),
            Some(MAX_THROTTLE)
        );
        assert_eq!(delay(MAX_RETRIES, Some(Duration::from_secs(1))), None);
    }
}
