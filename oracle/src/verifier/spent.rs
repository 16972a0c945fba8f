//! Where the verifier's time goes: waiting for stored reports (a restart backlog's next
//! window), waiting for verdicts to be stored, refreshing the density map and witness-graph
//! trust (of which rebuilding the density map, and evaluating the trust evidence), and waiting
//! for the checks that run ahead. Shared with
//! whoever watches the verifier ([`Verifier::spent`](super::Verifier::spent)), and logged while
//! a backlog is resumed, so an operator sees what a long catch-up is waiting for.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the time is spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum On {
    Reading,
    Storing,
    Refreshing,
    Evaluating,
    Density,
    Checking,
}

/// Nanoseconds per `On`, then the count of proofs of coverage checked ahead of their
/// window, shared.
#[derive(Debug, Default, Clone)]
pub struct Spent(Arc<[AtomicU64; CHECKED_AHEAD + 1]>);

/// The slot after the times: the count of proofs of coverage checked ahead.
const CHECKED_AHEAD: usize = On::Checking as usize + 1;

/// A reading of [`Spent`], in seconds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpentSeconds {
    /// Waiting for a restart backlog's next window of stored reports.
    pub reading_s: f64,
    /// Waiting for verdicts to be stored (the batch before, or all before a refresh).
    pub storing_s: f64,
    /// Refreshing density and trust, verdicts already stored (includes `evaluating_s` and
    /// `density_s`).
    pub refreshing_s: f64,
    /// Evaluating the witness-graph trust evidence.
    pub evaluating_s: f64,
    /// Rebuilding the HIP 17 density map (finding the active hotspots included).
    #[serde(default)]
    pub density_s: f64,
    /// Waiting for the checks that run ahead on another thread (distances, radio physics, time
    /// of flight) to reach the next proof of coverage.
    #[serde(default)]
    pub checking_s: f64,
    /// Proofs of coverage checked while the window before theirs was verified (not a time).
    #[serde(default)]
    pub checked_ahead: u64,
}

impl Spent {
    /// Adds the time since `since` to `on`.
    pub(super) fn add(&self, on: On, since: Instant) {
        let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0[on as usize].fetch_add(nanos, Ordering::Relaxed);
    }

    /// Counts `n` proofs of coverage checked ahead of their window.
    pub(super) fn checked_ahead(&self, n: usize) {
        self.0[CHECKED_AHEAD].fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn seconds(&self) -> SpentSeconds {
        let s = |on: On| Duration::from_nanos(self.0[on as usize].load(Ordering::Relaxed));
        SpentSeconds {
            reading_s: s(On::Reading).as_secs_f64(),
            storing_s: s(On::Storing).as_secs_f64(),
            refreshing_s: s(On::Refreshing).as_secs_f64(),
            evaluating_s: s(On::Evaluating).as_secs_f64(),
            density_s: s(On::Density).as_secs_f64(),
            checking_s: s(On::Checking).as_secs_f64(),
            checked_ahead: self.0[CHECKED_AHEAD].load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_adds_to_its_own_total_and_clones_share_them() {
        let spent = Spent::default();
        let seen = spent.clone();
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        spent.add(On::Storing, start);
        spent.add(On::Evaluating, start);
        let s = seen.seconds();
        assert!(s.storing_s >= 0.005, "{s:?}");
        assert!(s.evaluating_s >= 0.005, "{s:?}");
        assert_eq!((s.reading_s, s.refreshing_s, s.density_s), (0.0, 0.0, 0.0));
        spent.add(On::Density, start);
        assert!(seen.seconds().density_s >= 0.005);
        assert_eq!(seen.seconds().checking_s, 0.0);
        spent.add(On::Checking, start);
        assert!(seen.seconds().checking_s >= 0.005);
        spent.checked_ahead(3);
        spent.checked_ahead(4);
        assert_eq!(seen.seconds().checked_ahead, 7);
    }
}
