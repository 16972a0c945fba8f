//! Jittered exponential backoff for reconnecting and retrying.

use rand::Rng;
use std::time::Duration;

/// First delay after a failure.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Delays that double from `min` up to `max` after each consecutive failure. Each delay is
/// drawn uniformly from `[d/2, d]` ("equal jitter") so that many agents that lost the same
/// server do not come back in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(BACKOFF_MIN, BACKOFF_MAX)
    }
}

impl Backoff {
    /// A backoff from `min` doubling up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    /// Records a failure and returns how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let exponent = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let full = self.min.saturating_mul(1 << exponent).min(self.max);
        let half = full / 2;
        half + rand::rng().random_range(Duration::ZERO..=full - half)
    }

    /// Consecutive failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a success: the next failure waits `min` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter() {
        let mut backoff = Backoff::default();
        for full_secs in [1u64, 2, 4, 8, 16, 32, 60, 60, 60] {
            let full = Duration::from_secs(full_secs);
            let delay = backoff.next_delay();
            assert!(
                delay >= full / 2 && delay <= full,
                "{delay:?} not within [{:?}, {full:?}]",
                full / 2
            );
        }
        assert_eq!(backoff.failures(), 9);
        backoff.reset();
        assert!(backoff.next_delay() <= BACKOFF_MIN);
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut backoff = Backoff::default();
        for _ in 0..200 {
            assert!(backoff.next_delay() <= BACKOFF_MAX);
        }
    }
}
