//! Time, real or scaled.
//!
//! Every service reads time through a [`Clock`], so the simulator can run a whole network
//! faster than real time: with a [`ScaledClock`] of scale 60, one real second is one simulated
//! minute, and a service that wants to wait a simulated minute sleeps `to_real(60 s)` = 1 s.

use std::fmt::Debug;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time.
pub trait Clock: Send + Sync + Debug {
    /// Nanoseconds since the Unix epoch.
    fn now_ns(&self) -> u64;
    /// How long to wait in real time for `simulated` to pass on this clock.
    fn to_real(&self, simulated: Duration) -> Duration;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64 {
        self.now_ns() / 1_000_000
    }
}

/// A clock shared between tasks.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }
    fn to_real(&self, simulated: Duration) -> Duration {
        simulated
    }
}

/// A clock that starts at `start_ns` and runs `scale` times faster than real time.
///
/// A clock made with [`ScaledClock::held`] reads `start_ns` until [`ScaledClock::release`]:
/// set-up work (starting an oracle, onboarding hotspots) then takes no simulated time, so what
/// happens at a given simulated instant does not depend on how fast the machine did the set-up.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    /// The real instant the clock read `start_ns` and began to advance (unset while held).
    origin: OnceLock<Instant>,
    start_ns: u64,
    scale: f64,
}

impl ScaledClock {
    /// A clock reading `start_ns` now and advancing `scale` simulated seconds per real second.
    /// Non-positive or non-finite scales are treated as 1.
    pub fn new(start_ns: u64, scale: f64) -> Self {
        let clock = Self::held(start_ns, scale);
        clock.release();
        clock
    }

    /// A clock reading `start_ns` until [`release`](Self::release), then advancing from it
    /// `scale` simulated seconds per real second. Non-positive or non-finite scales are treated
    /// as 1.
    pub fn held(start_ns: u64, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            origin: OnceLock::new(),
            start_ns,
            scale,
        }
    }

    /// Lets a held clock advance from now on (no effect on one that already does). A clone
    /// taken while held stays held: share one clock through an `Arc`.
    pub fn release(&self) {
        let _ = self.origin.set(Instant::now());
    }

    /// Simulated seconds per real second.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now_ns(&self) -> u64 {
        let Some(origin) = self.origin.get() else {
            return self.start_ns;
        };
        let real = origin.elapsed().as_nanos() as f64;
        self.start_ns.saturating_add((real * self.scale) as u64)
    }
    fn to_real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_clock_runs_faster() {
        let clock = ScaledClock::new(1_000_000_000, 1000.0);
        assert_eq!(
            clock.to_real(Duration::from_secs(60)),
            Duration::from_millis(60)
        );
        let before = clock.now_ms();
        std::thread::sleep(Duration::from_millis(20));
        let advanced = clock.now_ms() - before;
        assert!(advanced >= 20_000, "advanced {advanced} ms");
        assert_eq!(ScaledClock::new(0, -1.0).scale(), 1.0);
    }

    #[test]
    fn a_held_clock_reads_its_start_until_released() {
        let clock = ScaledClock::held(5_000_000_000, 1000.0);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clock.now_ns(), 5_000_000_000);
        clock.release();
        std::thread::sleep(Duration::from_millis(20));
        let advanced = clock.now_ms() - 5_000;
        assert!(advanced >= 20_000, "advanced {advanced} ms");
        // A second release does not move the origin back to now.
        clock.release();
        assert!(clock.now_ms() - 5_000 >= advanced);
    }

    #[test]
    fn system_clock_is_wall_time() {
        let ms = SystemClock.now_ms();
        assert!(ms > 1_700_000_000_000);
        assert_eq!(
            SystemClock.to_real(Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }
}
