//! When and how long to wait before trying a request again.
//!
//! Design note: retries happen at the operation level (a download resumes with `Range`, an
//! upload asks the registry where it stands), so a streamed body is never replayed blindly. This
//! module only decides: which failures are worth another attempt, and after what delay.

use std::time::{Duration, SystemTime};

/// Exponential backoff with jitter, bounded in attempts and total time.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The delay before the first retry.
    pub initial_backoff: Duration,
    /// The longest delay between two attempts.
    pub max_backoff: Duration,
    /// The factor the delay grows by after each retry.
    pub multiplier: f64,
    /// The random spread around each delay, as a fraction (0.2 = +/-20%).
    pub jitter: f64,
    /// No retry starts after this much time since the first attempt.
    pub max_elapsed: Duration,
    /// A `Retry-After` longer than this ends the retries instead of waiting.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
            max_elapsed: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether an HTTP status may succeed when tried again: 408, 429 and 5xx except 501
    /// (Not Implemented) and 505 (HTTP Version Not Supported).
    pub fn is_retryable_status(status: u16) -> bool {
        matches!(status, 408 | 429)
            || ((500..600).contains(&status) && !matches!(status, 501 | 505))
    }

    /// The delay before retry number `retry` (1 = the first retry), without jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .multiplier
            .max(1.0)
            .powi(retry.saturating_sub(1).min(64) as i32);
        let secs = self.initial_backoff.as_secs_f64() * exp;
        Duration::try_from_secs_f64(secs.min(self.max_backoff.as_secs_f64()))
            .unwrap_or(self.max_backoff)
    }

    /// The delay before the next attempt after `attempts` attempts that started `elapsed` ago,
    /// or `None` to give up. A server's `Retry-After` replaces the backoff.
    pub fn next_delay(
        &self,
        attempts: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let delay = match retry_after {
            Some(d) if d > self.max_retry_after => return None,
            Some(d) => d,
            None => self.jittered(self.backoff(attempts)),
        };
        let within = elapsed
            .checked_add(delay)
            .is_some_and(|t| t <= self.max_elapsed);
        within.then_some(delay)
    }

    fn jittered(&self, d: Duration) -> Duration {
        if !self.jitter.is_finite() || self.jitter <= 0.0 {
            return d;
        }
        let spread = self.jitter.min(1.0);
        let factor = 1.0 + rand::random_range(-spread..=spread);
        Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_statuses_retry() {
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert!(RetryPolicy::is_retryable_status(s), "{s}");
        }
        for s in [200, 201, 202, 400, 401, 403, 404, 405, 409, 416, 501, 505] {
            assert!(!RetryPolicy::is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(350));
        assert_eq!(p.backoff(100), Duration::from_millis(350));
    }

    #[test]
    fn attempts_time_and_retry_after_bound_retries() {
        let p = RetryPolicy {
            max_attempts: 3,
            jitter: 0.5,
            ..RetryPolicy::default()
        };
        let d = p.next_delay(1, Duration::ZERO, None).unwrap();
        assert!(
            d >= Duration::from_millis(250) && d <= Duration::from_millis(750),
            "{d:?}"
        );
        assert!(p.next_delay(2, Duration::ZERO, None).is_some());
        assert_eq!(
            p.next_delay(3, Duration::ZERO, None),
            None,
            "attempts exhausted"
        );
        assert_eq!(
            p.next_delay(1, Duration::from_secs(300), None),
            None,
            "time exhausted"
        );
        let ra = Some(Duration::from_secs(7));
        assert_eq!(
            p.next_delay(1, Duration::ZERO, ra),
            ra,
            "Retry-After honoured"
        );
        assert_eq!(
            p.next_delay(1, Duration::ZERO, Some(Duration::from_secs(3600))),
            None
        );
        assert_eq!(
            RetryPolicy::never().next_delay(1, Duration::ZERO, None),
            None
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn absurd_settings_do_not_panic() {
        let odd = RetryPolicy {
            jitter: f64::NAN,
            multiplier: 1e300,
            max_backoff: Duration::MAX,
            max_elapsed: Duration::MAX,
            ..RetryPolicy::default()
        };
        for attempt in 1..5 {
            let _ = odd.next_delay(attempt, Duration::from_secs(u64::MAX / 2), None);
            let _ = odd.next_delay(attempt, Duration::ZERO, Some(Duration::MAX));
        }
    }
}
